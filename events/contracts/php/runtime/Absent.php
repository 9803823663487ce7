<?php

declare(strict_types=1);

namespace RefundTool\Events;

/**
 * The value of an optional field that is not in the message: not null (a field may be null and
 * present) and not an empty string.
 */
enum Absent
{
    case Field;
}
