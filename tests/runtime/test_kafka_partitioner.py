"""java_partition: where the Java client, and so every producer of the service, puts a keyed record."""

import ctypes

import pytest

from events.messaging.kafka import java_partition, murmur2


@pytest.mark.parametrize(
    ("key", "expected"),
    [  # Kafka's own test vectors (clients: UtilsTest.testMurmur2), as Java's signed int
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_murmur2_is_kafkas(key, expected):
    assert ctypes.c_int32(murmur2(key.encode())).value == expected


def test_a_partition_is_the_positive_hash_modulo_the_partitions():
    assert java_partition(b"21", 6) == (-973932308 & 0x7FFFFFFF) % 6
    assert {java_partition(f"ORD-{n}".encode(), 4) for n in range(50)} == {0, 1, 2, 3}
