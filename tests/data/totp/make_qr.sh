#!/bin/sh
# Regenerates the QR code images (needs Debian's qrencode and netpbm packages).
set -eu
cd "$(dirname "$0")"
qrencode -s 6 -m 4 -o qr-otpauth.png \
  'otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example'
qrencode -s 8 -m 4 -o qr-acme.tmp.png \
  'otpauth://totp/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60'
pngtopnm qr-acme.tmp.png | pnmtojpeg --quality=75 > qr-acme.jpg
rm qr-acme.tmp.png
qrencode -s 6 -m 4 -o qr-migration.png "$(cat migration-two-entries.txt)"
qrencode -s 6 -m 4 -o qr-not-totp.png 'https://example.com/'
# An HOTP URI, refused after its (made-up) secret was read: errors must not show that secret.
qrencode -s 6 -m 4 -o qr-hotp.png 'otpauth://hotp/a?secret=CANARYSECRETQQQQ&counter=1'
