//! QR codes of otpauth URIs, read from a PNG or JPEG screenshot or photo.
//!
//! `image` decodes the file, `rqrr` finds and decodes the QR code in a greyscale copy, and the
//! text goes through the same parser as pasted text. Buffers we own that hold the picture or
//! the text are wiped after use; the decoders' internal buffers are beyond our reach, and the
//! file itself stays on disk for the user to delete.
//!
//! The image is outside input, so the work is bounded: the file in bytes (read without blocking,
//! regular files only), the picture in pixels (from its header, before decoding), and the QR
//! search in time. The search needs the bound most: rqrr pairs up every candidate finder
//! pattern, copying the image per pair, so a few kilobytes of tiled finder patterns keep it busy
//! for hours. It runs on a thread of its own; past [`SEARCH_BUDGET`] the image is refused and the
//! thread is left to finish unobserved (the command exits right after).
#![deny(missing_docs)]

use std::io::Cursor;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use image::{DynamicImage, ImageError, ImageReader};
use zeroize::Zeroizing;

use super::{TotpError, TotpSecret};

/// Screenshots and phone photos are a few megabytes.
const MAX_FILE_BYTES: u64 = 32 << 20;
/// A 12-megapixel phone photo fits; a QR code needs far less.
const MAX_SIDE: u32 = 8192;
const MAX_PIXELS: u64 = 24_000_000;
/// A real QR code is found in milliseconds, a photo of one in well under a second.
const SEARCH_BUDGET: Duration = Duration::from_secs(10);

/// The largest QR code (version 40, numeric mode) holds 7089 characters; a buffer this size
/// never reallocates while rqrr writes into it, so no copy of the text is left behind.
const MAX_QR_TEXT: usize = 7089;

/// Every TOTP entry in the first readable QR code of the image at `path`.
pub(super) fn secrets(path: &Path) -> Result<Vec<TotpSecret>, TotpError> {
    secrets_in(path, None)
}

/// As [`secrets`], from the image's bytes when given (an image read from a stream; `path`
/// then only names it), else from the file at `path`.
pub(super) fn secrets_in(path: &Path, given: Option<&[u8]>) -> Result<Vec<TotpSecret>, TotpError> {
    let text = text(path, given)?;
    TotpSecret::parse_all(&text).map_err(|error| TotpError::QrNotTotp {
        path: path.to_path_buf(),
        source: Box::new(error),
    })
}

/// The text of the first QR code in the image that decodes.
fn text(path: &Path, given: Option<&[u8]>) -> Result<Zeroizing<String>, TotpError> {
    let (grey, width, height) = greyscale(path, given)?;
    let (tx, rx) = mpsc::channel();
    let owned = path.to_path_buf();
    let search = move || {
        let _ = tx.send(search(&owned, &grey, width, height));
    };
    std::thread::Builder::new()
        .name("qr-search".into())
        .spawn(search)
        .map_err(|error| TotpError::ImageRead {
            path: path.to_path_buf(),
            source: ImageError::IoError(error),
        })?;
    match rx.recv_timeout(SEARCH_BUDGET) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TotpError::QrTooComplex {
            path: path.to_path_buf(),
            seconds: SEARCH_BUDGET.as_secs(),
        }),
        // The decoder panicked on this picture: it holds no QR code keychain can read.
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(TotpError::NoQrCode {
            path: path.to_path_buf(),
        }),
    }
}

/// The picture at `path` as 8-bit greyscale, within the size bounds.
fn greyscale(
    path: &Path,
    given: Option<&[u8]>,
) -> Result<(Zeroizing<Vec<u8>>, usize, usize), TotpError> {
    let unreadable = |source| TotpError::ImageRead {
        path: path.to_path_buf(),
        source,
    };
    let read = || match given {
        Some(bytes) if bytes.len() as u64 > MAX_FILE_BYTES => Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            "larger than an image of a QR code can be",
        )),
        Some(bytes) => Ok(bytes.to_vec()),
        None => crate::fsutil::read_regular(path, MAX_FILE_BYTES),
    };
    let bytes = Zeroizing::new(read().map_err(|error| match error.kind() {
        // Not a file at all (a FIFO, a folder), or far too large for a picture.
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::FileTooLarge => {
            TotpError::ImageFile {
                path: path.to_path_buf(),
                source: error,
            }
        }
        _ => unreadable(ImageError::IoError(error)),
    })?);
    // Sniff the format from the content: screenshots often have the wrong extension.
    let reader = || {
        ImageReader::new(Cursor::new(&bytes[..]))
            .with_guessed_format()
            .map_err(|error| unreadable(ImageError::IoError(error)))
    };
    let (width, height) = reader()?.into_dimensions().map_err(unreadable)?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(TotpError::ImageTooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_side: MAX_SIDE,
            max_pixels: MAX_PIXELS,
        });
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    let mut reader = reader()?;
    reader.limits(limits);
    let image: DynamicImage = reader.decode().map_err(unreadable)?;
    let grey = Zeroizing::new(image.to_luma8().into_raw());
    let (width, height) = (image.width() as usize, image.height() as usize);
    drop(Zeroizing::new(image.into_bytes()));
    Ok((grey, width, height))
}

/// Finds the QR codes in a greyscale picture and decodes the first that holds UTF-8 text.
fn search(
    path: &Path,
    grey: &[u8],
    width: usize,
    height: usize,
) -> Result<Zeroizing<String>, TotpError> {
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| grey[y * width + x]);
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(TotpError::NoQrCode {
            path: path.to_path_buf(),
        });
    }

    let mut last_error = rqrr::DeQRError::DataEcc;
    for grid in grids {
        let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_QR_TEXT));
        match grid.decode_to(&mut *bytes) {
            Ok(_) => match String::from_utf8(std::mem::take(&mut *bytes)) {
                Ok(text) => return Ok(Zeroizing::new(text)),
                Err(error) => {
                    drop(Zeroizing::new(error.into_bytes()));
                    last_error = rqrr::DeQRError::EncodingError;
                }
            },
            Err(error) => last_error = error,
        }
    }
    Err(TotpError::QrDecode {
        path: path.to_path_buf(),
        source: last_error,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_no_leak;
    use super::super::{Algorithm, select};
    use super::*;
    use secrecy::ExposeSecret;
    use std::path::PathBuf;

    const T: u64 = 1_700_000_000;

    /// Fixtures made by `tests/data/totp/make_qr.sh`; see the README beside them.
    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/totp")
            .join(name)
    }

    #[test]
    fn png_of_an_otpauth_uri() {
        let secret = TotpSecret::from_qr_image(&fixture("qr-otpauth.png")).unwrap();
        assert_eq!(secret.issuer.as_deref(), Some("Example"));
        assert_eq!(secret.label.as_deref(), Some("alice@example.com"));
        assert_eq!(secret.secret_base32().expose_secret(), "JBSWY3DPEHPK3PXP");
        // oathtool --totp -b JBSWY3DPEHPK3PXP --now @1700000000
        assert_eq!(secret.code_at(T).expose_secret(), "324550");
    }

    #[test]
    fn jpeg_of_an_otpauth_uri() {
        let secret = TotpSecret::from_qr_image(&fixture("qr-acme.jpg")).unwrap();
        assert_eq!(secret.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(secret.label.as_deref(), Some("john.doe@email.com"));
        assert_eq!(secret.algorithm, Algorithm::Sha256);
        assert_eq!(secret.digits, 8);
        assert_eq!(secret.period, 60);
        assert_eq!(
            secret.secret_base32().expose_secret(),
            "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
        );
    }

    #[test]
    fn format_is_sniffed_not_taken_from_the_extension() {
        let dir = tempfile::tempdir().unwrap();
        let misnamed = dir.path().join("screenshot.jpg");
        std::fs::copy(fixture("qr-otpauth.png"), &misnamed).unwrap();
        assert!(TotpSecret::from_qr_image(&misnamed).is_ok());
    }

    #[test]
    fn migration_export_in_a_qr_code() {
        let path = fixture("qr-migration.png");
        let error = TotpSecret::from_qr_image(&path).unwrap_err();
        assert!(matches!(error, TotpError::SeveralEntries { count: 2, .. }));
        let all = TotpSecret::all_from_qr_image(&path).unwrap();
        assert_eq!(all.len(), 2);
        let bob = select(all, "Other Corp:bob").unwrap();
        assert_eq!(bob.algorithm, Algorithm::Sha256);
    }

    #[test]
    fn image_without_a_qr_code() {
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank.png");
        image::GrayImage::from_fn(200, 120, |x, _| {
            image::Luma([if x < 100 { 255 } else { 0 }])
        })
        .save(&blank)
        .unwrap();
        let error = TotpSecret::from_qr_image(&blank).unwrap_err();
        assert!(matches!(error, TotpError::NoQrCode { .. }), "{error:?}");
        assert!(error.to_string().contains("blank.png"));
    }

    #[test]
    fn qr_code_that_is_not_a_totp_uri() {
        let error = TotpSecret::from_qr_image(&fixture("qr-not-totp.png")).unwrap_err();
        assert!(matches!(error, TotpError::QrNotTotp { .. }), "{error:?}");
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("not a TOTP secret"), "{cause}");
    }

    #[test]
    fn unreadable_files() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("secret.png");
        std::fs::write(&text, "otpauth://totp/a?secret=CANARYSECRETQQQQ").unwrap();
        let missing = dir.path().join("missing.png");
        for path in [text, missing] {
            let error = TotpSecret::from_qr_image(&path).unwrap_err();
            assert!(matches!(error, TotpError::ImageRead { .. }), "{error:?}");
            assert_no_leak(&error, &["CANARYSECRET"]);
        }
    }

    #[test]
    fn errors_about_a_qr_code_never_show_its_secret() {
        // A readable QR code whose URI is refused after its secret was read.
        let error = TotpSecret::from_qr_image(&fixture("qr-hotp.png")).unwrap_err();
        assert!(matches!(error, TotpError::QrNotTotp { .. }), "{error:?}");
        assert_no_leak(&error, &["CANARYSECRET"]);
    }
}
