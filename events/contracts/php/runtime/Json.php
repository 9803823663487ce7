<?php

declare(strict_types=1);

namespace RefundTool\Events;

/**
 * What the generated classes read JSON values with; every failure is a DecodeError at its path.
 */
final class Json
{
    public static function decode(string $json): mixed
    {
        try {
            return json_decode($json, false, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException $exception) {
            throw new DecodeError('', 'not JSON: ' . $exception->getMessage());
        }
    }

    public static function encode(\JsonSerializable $message): string
    {
        return json_encode($message, JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
    }

    /**
     * The object, refusing fields it does not list: every object of the specification is closed.
     *
     * @param list<string> $fields
     */
    public static function closedObject(mixed $value, array $fields, string $path): \stdClass
    {
        if (!$value instanceof \stdClass) {
            throw new DecodeError($path, 'must be an object');
        }
        foreach (array_keys(get_object_vars($value)) as $key) {
            if (!in_array((string) $key, $fields, true)) {
                throw new DecodeError($path . '/' . self::escape((string) $key), 'is not a field of this event type');
            }
        }

        return $value;
    }

    /**
     * @template T
     * @param callable(mixed, string): T $read
     * @return T
     */
    public static function required(\stdClass $object, string $field, string $path, callable $read): mixed
    {
        $at = $path . '/' . self::escape($field);
        if (!property_exists($object, $field)) {
            throw new DecodeError($at, 'is required');
        }

        return $read($object->{$field}, $at);
    }

    /**
     * @template T
     * @param callable(mixed, string): T $read
     * @return T|Absent
     */
    public static function optional(\stdClass $object, string $field, string $path, callable $read): mixed
    {
        if (!property_exists($object, $field)) {
            return Absent::Field;
        }

        return $read($object->{$field}, $path . '/' . self::escape($field));
    }

    /**
     * @template T
     * @param callable(mixed, string): T $read
     * @return callable(mixed, string): (T|null)
     */
    public static function nullable(callable $read): callable
    {
        return static fn (mixed $value, string $path): mixed => $value === null ? null : $read($value, $path);
    }

    public static function string(mixed $value, string $path): string
    {
        if (!is_string($value)) {
            throw new DecodeError($path, 'must be a string');
        }

        return $value;
    }

    public static function int(mixed $value, string $path): int
    {
        if (!is_int($value)) {
            throw new DecodeError($path, 'must be an integer');
        }

        return $value;
    }

    public static function bool(mixed $value, string $path): bool
    {
        if (!is_bool($value)) {
            throw new DecodeError($path, 'must be true or false');
        }

        return $value;
    }

    /**
     * @template T of \BackedEnum
     * @param class-string<T> $enum
     * @return T
     */
    public static function enum(string $enum, mixed $value, string $path): \BackedEnum
    {
        $case = is_string($value) ? $enum::tryFrom($value) : null;
        if ($case === null) {
            throw new DecodeError($path, 'is not a value of ' . $enum);
        }

        return $case;
    }

    /**
     * @template T
     * @param callable(mixed, string): T $read
     * @return list<T>
     */
    public static function list(mixed $value, string $path, callable $read): array
    {
        if (!is_array($value) || !array_is_list($value)) {
            throw new DecodeError($path, 'must be an array');
        }

        return array_map(static fn (mixed $item, int $index): mixed => $read($item, "$path/$index"), $value, array_keys($value));
    }

    private static function escape(string $key): string
    {
        return str_replace(['~', '/'], ['~0', '~1'], $key);
    }
}
