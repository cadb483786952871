//! What can go wrong while reading a TOTP secret, each with what the user can do about it.
//!
//! No variant holds or prints a secret: errors cite a character position, a parameter name or
//! an entry number, never the text found there, because error messages end up in terminals,
//! logs and bug reports.

/// Errors from reading a TOTP secret or building one from its parts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    #[error(
        "the TOTP secret is empty; paste the whole base32 secret, otpauth:// URI or \
         otpauth-migration:// export the provider gave you"
    )]
    EmptySecret,

    #[error(
        "the TOTP secret is not valid base32: character {position} is not a letter A-Z or a digit \
         2-7 (0, 1, 8 and 9 never occur; a 0 is probably an O, a 1 an I or L); check that the \
         secret was copied exactly"
    )]
    InvalidBase32 {
        /// 1-based position of the offending character in the secret as given.
        position: usize,
    },

    #[error(
        "the TOTP secret has {length} base32 characters, a length no encoder produces; check that \
         it was copied whole"
    )]
    Base32Length {
        /// Number of base32 characters, separators and padding left out.
        length: usize,
    },

    #[error("TOTP codes have 6 to 8 digits, not {digits}; fix the digits setting")]
    InvalidDigits { digits: u32 },

    #[error("the TOTP period must be at least 1 second; fix the period setting (usually 30)")]
    ZeroPeriod,

    #[error(
        "a TOTP period of {period} s is longer than the {max} s any provider uses; fix the period setting (usually 30)"
    )]
    PeriodTooLong { period: u64, max: u64 },

    #[error(
        "not a TOTP secret: expected a base32 secret, an otpauth://totp/ URI or an \
         otpauth-migration:// export"
    )]
    UnrecognisedInput,

    #[error("the algorithm is not one of SHA1, SHA256 or SHA512; keychain supports only these")]
    UnknownAlgorithm,

    #[error(
        "the input holds no TOTP entry (only HOTP or unknown kinds); keychain needs a time-based \
         (TOTP) secret"
    )]
    NoTotpEntry,

    #[error(
        "the input holds {count} TOTP entries ({entries}); choose one with --totp-select N (its \
         number) or --totp-select ISSUER:LABEL"
    )]
    SeveralEntries {
        count: usize,
        /// Numbered issuer/label names, never secrets.
        entries: String,
    },

    #[error("no TOTP entry matches `{selector}`; the entries are: {entries}")]
    NoSuchEntry { selector: String, entries: String },

    #[error("the otpauth URI is malformed; copy it again, whole, from the provider")]
    InvalidUri(#[source] url::ParseError),

    #[error(
        "HOTP (counter-based) secrets are not supported; keychain needs a time-based one: ask the \
         provider for an otpauth://totp/ setup (often called \"authenticator app\")"
    )]
    HotpNotSupported,

    #[error("the otpauth URI is not of type totp; expected otpauth://totp/ISSUER:LABEL?secret=...")]
    UnsupportedOtpType,

    #[error("the otpauth URI has no secret parameter; copy the whole URI, including `secret=`")]
    MissingSecret,

    #[error(
        "the otpauth URI gives the `{name}` parameter more than once; keychain will not guess \
         which one is meant, so fix the URI or ask the provider for a new one"
    )]
    RepeatedParameter { name: &'static str },

    #[error("the `{name}` parameter of the otpauth URI is not a whole number; fix or remove it")]
    InvalidNumber { name: &'static str },

    #[error(
        "the label of the otpauth URI is not valid UTF-8 after percent-decoding; fix or remove \
         the ISSUER:LABEL part"
    )]
    InvalidLabel,

    #[error(
        "the otpauth-migration export has no `data` parameter; export the accounts from Google \
         Authenticator again and copy the whole QR code text"
    )]
    MigrationMissingData,

    #[error(
        "the `data` of the otpauth-migration export is not valid base64; it was probably cut or \
         altered: scan or copy the export again"
    )]
    MigrationBase64,

    #[error(
        "the otpauth-migration export is damaged (not a Google Authenticator payload); scan or \
         copy the export again"
    )]
    MigrationDecode(#[source] prost::DecodeError),

    #[error(
        "entry {entry} of the otpauth-migration export uses an algorithm keychain does not \
         support (only SHA1, SHA256 and SHA512); leave that account out of the export"
    )]
    MigrationAlgorithm { entry: usize },

    #[error(
        "entry {entry} of the otpauth-migration export has a digit count keychain does not \
         know (only 6 or 8); leave that account out of the export"
    )]
    MigrationDigits { entry: usize },

    #[error(
        "cannot read {} as a PNG or JPEG image; check the path, and save the QR code as PNG or \
         JPEG if it is in another format",
        .path.display()
    )]
    ImageRead {
        path: std::path::PathBuf,
        #[source]
        source: image::ImageError,
    },

    #[error(
        "cannot read {} as an image: {source}; give the path of a PNG or JPEG file",
        .path.display()
    )]
    ImageFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{} is {width} x {height} pixels, larger than a QR code picture needs (at most {max_side} \
         pixels a side and {max_pixels} pixels in all); crop the picture to the QR code",
        .path.display()
    )]
    ImageTooLarge {
        path: std::path::PathBuf,
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },

    #[error(
        "{} has too many QR-code-like patterns to search (gave up after {seconds} s); crop the \
         picture to the one QR code",
        .path.display()
    )]
    QrTooComplex {
        path: std::path::PathBuf,
        seconds: u64,
    },

    #[error(
        "no QR code found in {}; crop the picture to the QR code, or take a sharper, straighter \
         screenshot",
        .path.display()
    )]
    NoQrCode { path: std::path::PathBuf },

    #[error(
        "found a QR code in {} but could not decode it; try a sharper or larger picture",
        .path.display()
    )]
    QrDecode {
        path: std::path::PathBuf,
        #[source]
        source: rqrr::DeQRError,
    },

    #[error(
        "the QR code in {} does not hold a TOTP secret; use the QR code the provider shows for \
         an authenticator app",
        .path.display()
    )]
    QrNotTotp {
        path: std::path::PathBuf,
        #[source]
        source: Box<TotpError>,
    },
}
