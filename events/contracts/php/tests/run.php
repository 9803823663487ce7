<?php

// The PHP types on the shared vectors (events/contracts/vectors/), without phpunit:
//   php events/contracts/php/tests/run.php
// Every valid vector is read into its message class and json_encode gives equal JSON back; every
// invalid vector the types can refuse alone is refused, at the path our validator names. The
// others (patterns, lengths, formats, pinned constants, control characters) only the JSON Schema
// refuses: tests/events_spec/test_vectors.py shows that it does.

declare(strict_types=1);

use RefundTool\Events\DecodeError;
use RefundTool\Events\Json;
use RefundTool\Events\Topics;

// What composer.json's PSR-4 mapping does, so the runner needs no Composer.
spl_autoload_register(static function (string $class): void {
    $prefix = 'RefundTool\\Events\\';
    if (!str_starts_with($class, $prefix)) {
        return;
    }
    foreach (['src', 'runtime'] as $folder) {
        $file = dirname(__DIR__) . "/$folder/" . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
            return;
        }
    }
});

const REFUSED_BY_TYPES = ['unknown_field', 'missing_required', 'wrong_type', 'not_in_enum'];

/** Objects as sorted [key, value] pairs, so equal JSON compares equal whatever the key order. */
function canonical(mixed $value): mixed
{
    if ($value instanceof stdClass) {
        $pairs = get_object_vars($value);
        ksort($pairs, SORT_STRING);
        return ['object' => array_map(null, array_map('strval', array_keys($pairs)), array_map('canonical', array_values($pairs)))];
    }
    return is_array($value) ? array_map('canonical', $value) : $value;
}

$passed = 0;
$failed = 0;
$schemaOnly = 0;
$fail = static function (string $what) use (&$failed): void {
    $failed++;
    fwrite(STDERR, "FAIL $what\n");
};

$files = glob(dirname(__DIR__, 2) . '/vectors/*.json');
if (!$files) {
    fwrite(STDERR, "no vectors found\n");
    exit(1);
}
foreach ($files as $file) {
    $vectors = json_decode((string) file_get_contents($file), false, 512, JSON_THROW_ON_ERROR);
    $class = Topics::MESSAGE_CLASSES[$vectors->topic] ?? null;
    if ($class === null) {
        $fail("$vectors->topic: no PHP class");
        continue;
    }
    foreach ($vectors->valid as $vector) {
        $what = "$vectors->topic valid $vector->name";
        try {
            $encoded = Json::encode($class::fromObject($vector->message));
        } catch (DecodeError $error) {
            $fail("$what: refused: {$error->getMessage()}");
            continue;
        }
        if (canonical(json_decode($encoded, false, 512, JSON_THROW_ON_ERROR)) !== canonical($vector->message)) {
            $fail("$what: re-encoded differently: $encoded");
            continue;
        }
        $passed++;
    }
    foreach ($vectors->invalid as $vector) {
        $what = "$vectors->topic invalid $vector->name";
        try {
            $class::fromObject($vector->message);
            $refusal = null;
        } catch (DecodeError $error) {
            $refusal = $error;
        }
        if (!in_array($vector->mutation, REFUSED_BY_TYPES, true)) {
            $schemaOnly += $refusal === null ? 1 : 0;
            $passed++;
        } elseif ($refusal === null) {
            $fail("$what: accepted");
        } elseif ($refusal->path !== $vector->errors[0]->path) {
            $fail("$what: refused at $refusal->path, the validator says {$vector->errors[0]->path}");
        } else {
            $passed++;
        }
    }
}
echo "$schemaOnly invalid vectors only the JSON Schema refuses (the PHP types cannot alone)\n";
echo "$passed passed, $failed failed\n";
exit($failed === 0 ? 0 : 1);
