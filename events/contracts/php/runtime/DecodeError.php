<?php

declare(strict_types=1);

namespace RefundTool\Events;

/**
 * A message that the types cannot hold, with the JSON pointer of the value at fault. The types
 * check fields, JSON types and enum values; the JSON Schema (events/contracts/schemas/) also checks
 * patterns, lengths and formats.
 */
final class DecodeError extends \UnexpectedValueException
{
    public function __construct(public readonly string $path, string $reason)
    {
        parent::__construct(($path === '' ? '/' : $path) . ': ' . $reason);
    }
}
