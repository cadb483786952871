#!/usr/bin/env python3
"""Writes migration-two-entries.txt: a Google Authenticator export with two TOTP entries.

The protobuf is encoded by hand here, independently of the Rust decoder under test, following
Google Authenticator's MigrationPayload message:

  MigrationPayload { repeated OtpParameters otp_parameters = 1; int32 version = 2;
                     int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5; }
  OtpParameters { bytes secret = 1; string name = 2; string issuer = 3;
                  Algorithm algorithm = 4;   // 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5
                  DigitCount digits = 5;     // 1 SIX, 2 EIGHT
                  OtpType type = 6;          // 1 HOTP, 2 TOTP
                  int64 counter = 7; }

The secrets are public test values, not real credentials.
"""
import base64
import pathlib
import urllib.parse


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3 | 0) + varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def otp(secret_b32: str, name: str, issuer: str, algorithm: int, digits: int) -> bytes:
    return (
        field_bytes(1, base64.b32decode(secret_b32))
        + field_bytes(2, name.encode())
        + field_bytes(3, issuer.encode())
        + field_varint(4, algorithm)
        + field_varint(5, digits)
        + field_varint(6, 2)  # TOTP
    )


payload = (
    field_bytes(1, otp("JBSWY3DPEHPK3PXP", "Example:alice@example.com", "Example", 1, 1))
    + field_bytes(1, otp("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ", "bob", "Other Corp", 2, 2))
    + field_varint(2, 1)  # version
    + field_varint(3, 1)  # batch_size
    + field_varint(4, 0)  # batch_index
    + field_varint(5, 1234567)  # batch_id
)
data = urllib.parse.quote(base64.b64encode(payload).decode(), safe="")
here = pathlib.Path(__file__).parent
(here / "migration-two-entries.txt").write_text(f"otpauth-migration://offline?data={data}\n")
