//! What can go wrong while reading a TOTP secret; [`TotpError::hint`] says what the user can do
//! about it.
//!
//! No variant holds or prints a secret: errors cite a character position, a parameter name or
//! an entry number, never the text found there, because error messages end up in terminals,
//! logs and bug reports.
#![deny(missing_docs)]

/// Errors from reading a TOTP secret or building one from its parts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    /// Nothing was given, or only separators and padding.
    #[error("the TOTP secret is empty")]
    EmptySecret,

    /// A character outside the base32 alphabet; the position says where.
    #[error(
        "the TOTP secret is not valid base32: character {position} is not a letter A-Z or a digit \
         2-7 (0, 1, 8 and 9 never occur; a 0 is probably an O, a 1 an I or L)"
    )]
    InvalidBase32 {
        /// 1-based position of the offending character in the secret as given.
        position: usize,
    },

    /// A base32 length that no encoder produces: the secret was probably cut.
    #[error("the TOTP secret has {length} base32 characters, a length no encoder produces")]
    Base32Length {
        /// Number of base32 characters, separators and padding left out.
        length: usize,
    },

    /// A code length outside 6 to 8 digits.
    #[error("TOTP codes have 6 to 8 digits, not {digits}")]
    InvalidDigits {
        /// The digit count given.
        digits: u32,
    },

    /// A period of 0 seconds.
    #[error("the TOTP period must be at least 1 second")]
    ZeroPeriod,

    /// A period longer than any provider uses, most likely a typo.
    #[error("a TOTP period of {period} s is longer than the {max} s any provider uses")]
    PeriodTooLong {
        /// The period given, in seconds.
        period: u64,
        /// The longest period keychain accepts, in seconds.
        max: u64,
    },

    /// The input is none of the forms a provider hands out.
    #[error(
        "not a TOTP secret: expected a base32 secret, an otpauth://totp/ URI or an \
         otpauth-migration:// export"
    )]
    UnrecognisedInput,

    /// An HMAC algorithm other than SHA1, SHA256 or SHA512.
    #[error("the algorithm is not one of SHA1, SHA256 or SHA512; keychain supports only these")]
    UnknownAlgorithm,

    /// An export or URI that holds only HOTP or unknown kinds of entries.
    #[error(
        "the input holds no TOTP entry (only HOTP or unknown kinds); keychain needs a time-based \
         (TOTP) secret"
    )]
    NoTotpEntry,

    /// An export with several TOTP entries and no selector to pick one.
    #[error("the input holds {count} TOTP entries ({entries})")]
    SeveralEntries {
        /// How many TOTP entries the input holds.
        count: usize,
        /// Numbered issuer/label names, never secrets.
        entries: String,
    },

    /// The selector matches none of the export's TOTP entries.
    #[error("no TOTP entry matches `{selector}`; the entries are: {entries}")]
    NoSuchEntry {
        /// The selector as the user gave it (a number or ISSUER:LABEL, never a secret).
        selector: String,
        /// Numbered issuer/label names, never secrets.
        entries: String,
    },

    /// The `otpauth://` URI does not parse as a URL.
    #[error("the otpauth URI is malformed")]
    InvalidUri(#[source] url::ParseError),

    /// An `otpauth://hotp/` URI: counter-based codes cannot be computed unattended.
    #[error("HOTP (counter-based) secrets are not supported; keychain needs a time-based one")]
    HotpNotSupported,

    /// An `otpauth://` URI of a type other than `totp`.
    #[error("the otpauth URI is not of type totp; expected otpauth://totp/ISSUER:LABEL?secret=...")]
    UnsupportedOtpType,

    /// An `otpauth://totp/` URI without a `secret` parameter.
    #[error("the otpauth URI has no secret parameter")]
    MissingSecret,

    /// A parameter given twice; keychain will not guess which one counts.
    #[error(
        "the otpauth URI gives the `{name}` parameter more than once; keychain will not guess \
         which one is meant"
    )]
    RepeatedParameter {
        /// The parameter's name.
        name: &'static str,
    },

    /// A numeric parameter (`digits`, `period`) that is not a whole number.
    #[error("the `{name}` parameter of the otpauth URI is not a whole number")]
    InvalidNumber {
        /// The parameter's name.
        name: &'static str,
    },

    /// A label that is not UTF-8 once percent-decoded.
    #[error("the label of the otpauth URI is not valid UTF-8 after percent-decoding")]
    InvalidLabel,

    /// An `otpauth-migration://` URI without its `data` parameter.
    #[error("the otpauth-migration export has no `data` parameter")]
    MigrationMissingData,

    /// The export's `data` is not base64: cut or altered in copying.
    #[error(
        "the `data` of the otpauth-migration export is not valid base64; it was probably cut or \
         altered"
    )]
    MigrationBase64,

    /// The export's payload is not a Google Authenticator protobuf.
    #[error("the otpauth-migration export is damaged (not a Google Authenticator payload)")]
    MigrationDecode(#[source] prost::DecodeError),

    /// An export entry with an algorithm keychain does not support.
    #[error(
        "entry {entry} of the otpauth-migration export uses an algorithm keychain does not \
         support (only SHA1, SHA256 and SHA512)"
    )]
    MigrationAlgorithm {
        /// 1-based number of the entry in the export.
        entry: usize,
    },

    /// An export entry with a digit count keychain does not know.
    #[error(
        "entry {entry} of the otpauth-migration export has a digit count keychain does not \
         know (only 6 or 8)"
    )]
    MigrationDigits {
        /// 1-based number of the entry in the export.
        entry: usize,
    },

    /// The picture could not be read or decoded as PNG or JPEG (missing, unreadable, another
    /// format).
    #[error(
        "cannot read {} as a PNG or JPEG image",
        .path.display()
    )]
    ImageRead {
        /// The picture file.
        path: std::path::PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },

    /// The path is not a regular file (a FIFO, a folder) or is far too large for a picture;
    /// refused before reading it.
    #[error(
        "cannot read {} as an image: {source}",
        .path.display()
    )]
    ImageFile {
        /// The picture file.
        path: std::path::PathBuf,
        /// Why the file was refused.
        #[source]
        source: std::io::Error,
    },

    /// A picture too large to search for a QR code: refused before decoding, so a
    /// crafted file cannot exhaust memory.
    #[error(
        "{} is {width} x {height} pixels, larger than a QR code picture needs (at most {max_side} \
         pixels a side and {max_pixels} pixels in all)",
        .path.display()
    )]
    ImageTooLarge {
        /// The picture file.
        path: std::path::PathBuf,
        /// Its width in pixels.
        width: u32,
        /// Its height in pixels.
        height: u32,
        /// The longest side accepted, in pixels.
        max_side: u32,
        /// The most pixels accepted in all.
        max_pixels: u64,
    },

    /// The QR search gave up after its time limit (a picture full of finder-like
    /// patterns).
    #[error(
        "{} has too many QR-code-like patterns to search (gave up after {seconds} s)",
        .path.display()
    )]
    QrTooComplex {
        /// The picture file.
        path: std::path::PathBuf,
        /// The time limit that ran out, in seconds.
        seconds: u64,
    },

    /// No QR code was found in the picture (or the decoder gave up on it).
    #[error(
        "no QR code found in {}",
        .path.display()
    )]
    NoQrCode {
        /// The picture file.
        path: std::path::PathBuf,
    },

    /// A QR code was found but could not be decoded (damaged, cut or blurred).
    #[error(
        "found a QR code in {} but could not decode it",
        .path.display()
    )]
    QrDecode {
        /// The picture file.
        path: std::path::PathBuf,
        /// The QR decoder's error.
        #[source]
        source: rqrr::DeQRError,
    },

    /// The QR code decoded, but its text is not a TOTP secret; the source says why.
    #[error(
        "the QR code in {} does not hold a TOTP secret",
        .path.display()
    )]
    QrNotTotp {
        /// The picture file.
        path: std::path::PathBuf,
        /// Why its text is not a TOTP secret.
        #[source]
        source: Box<TotpError>,
    },
}

impl TotpError {
    /// What the user can do about it (the message says what is wrong).
    fn advice(&self) -> Option<&'static str> {
        Some(match self {
            TotpError::EmptySecret => {
                "paste the whole base32 secret, otpauth:// URI or otpauth-migration:// export the provider gave you"
            }
            TotpError::InvalidBase32 { .. } => "check that the secret was copied exactly",
            TotpError::Base32Length { .. } => "check that the secret was copied whole",
            TotpError::InvalidDigits { .. } => "fix the digits setting",
            TotpError::ZeroPeriod | TotpError::PeriodTooLong { .. } => {
                "fix the period setting (usually 30)"
            }
            TotpError::SeveralEntries { .. } => {
                "choose one with --totp-select N (its number) or --totp-select ISSUER:LABEL"
            }
            TotpError::InvalidUri(_) => "copy it again, whole, from the provider",
            TotpError::HotpNotSupported => {
                "ask the provider for an otpauth://totp/ setup (often called \"authenticator app\")"
            }
            TotpError::MissingSecret => "copy the whole URI, including `secret=`",
            TotpError::RepeatedParameter { .. } => "fix the URI or ask the provider for a new one",
            TotpError::InvalidNumber { .. } => "fix or remove that parameter",
            TotpError::InvalidLabel => "fix or remove the ISSUER:LABEL part",
            TotpError::MigrationMissingData => {
                "export the accounts from Google Authenticator again and copy the whole QR code text"
            }
            TotpError::MigrationBase64 | TotpError::MigrationDecode(_) => {
                "scan or copy the export again"
            }
            TotpError::MigrationAlgorithm { .. } | TotpError::MigrationDigits { .. } => {
                "leave that account out of the export"
            }
            TotpError::ImageRead { .. } => {
                "check the path, and save the QR code as PNG or JPEG if it is in another format"
            }
            TotpError::ImageFile { .. } => "give the path of a PNG or JPEG file",
            TotpError::ImageTooLarge { .. } => "crop the picture to the QR code",
            TotpError::QrTooComplex { .. } => "crop the picture to the one QR code",
            TotpError::NoQrCode { .. } => {
                "crop the picture to the QR code, or take a sharper, straighter screenshot"
            }
            TotpError::QrDecode { .. } => "try a sharper or larger picture",
            TotpError::QrNotTotp { .. } => {
                "use the QR code the provider shows for an authenticator app"
            }
            _ => return None,
        })
    }
}

impl crate::exit::Failure for TotpError {
    /// A secret, URI, QR image or setting that cannot be used: bad input.
    fn class(&self) -> crate::exit::Class {
        crate::exit::Class::Usage
    }

    fn hint(&self) -> Option<String> {
        self.advice().map(str::to_string)
    }
}
