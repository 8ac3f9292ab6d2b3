//! Image decoding that refuses what it cannot decode whole, and bounds what a decode may
//! allocate before it allocates.
//!
//! Why: scraped datasets hold files cut short by interrupted downloads, and a decoder that
//! pads the missing part with grey hands the model a different picture without a word (a
//! JPEG cut at 55% of its bytes embeds at cosine 0.975 to the whole one). The `image` crate
//! decodes JPEG with zune-jpeg in its lenient mode, so JPEG is decoded here with zune-jpeg in
//! strict mode, which errors on a premature end of the entropy-coded data, a missing marker
//! or a marker where none belongs; the other formats' decoders (png, gif, bmp, tiff, webp)
//! already error on missing data, which `tests/image_decoding.rs` checks for every format at
//! many cut points.
//!
//! Decompression bombs: a file of a few hundred bytes can declare 100,000 x 100,000 pixels.
//! Every decode reads the declared dimensions from the header first and refuses an image of
//! more than [`max_pixels`] pixels (default [`DEFAULT_MAX_PIXELS`], Pillow's
//! `DecompressionBombError` threshold, `2 * Image.MAX_IMAGE_PIXELS`), before any pixel
//! buffer exists; the `image` crate's decoders (PNG, GIF, BMP, TIFF, WebP) also get an
//! allocation budget through `image::Limits::max_alloc`, while JPEG's buffers follow from the
//! checked dimensions. One relaxation of zune-jpeg's strict mode: padding bytes before a
//! marker, which libjpeg and Pillow accept with a warning, fall back to the lenient decoder. Like Pillow's `Image.MAX_IMAGE_PIXELS`, the limit is one
//! process-wide setting ([`set_max_pixels`], the CLI's `--max-image-pixels`), because every
//! path that decodes an image (stimuli, `embed`, previews, the TUI) must obey the same one.

use std::io::{BufRead, Cursor, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::error::{DecodingError, ImageFormatHint};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// The default pixel limit: Pillow's `DecompressionBombError` threshold (twice its
/// `MAX_IMAGE_PIXELS` of 89,478,485, i.e. 178,956,970 pixels, about 13,400 x 13,400).
pub const DEFAULT_MAX_PIXELS: u64 = 2 * 89_478_485;

static MAX_PIXELS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_PIXELS);

/// The largest image (width x height, in pixels) any decode accepts.
pub fn max_pixels() -> u64 {
    MAX_PIXELS.load(Ordering::Relaxed)
}

/// Sets the largest image any decode in this process accepts (at least 1 pixel).
pub fn set_max_pixels(pixels: u64) {
    MAX_PIXELS.store(pixels.max(1), Ordering::Relaxed);
}

/// Problems turning a file into model input.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read.
    #[error("cannot read image {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes could not be decoded as a whole image (corrupt, cut short, or not an image).
    #[error("cannot decode image {path}: {source} (the file may be cut short or corrupt; it was not used)")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        #[source]
        source: image::ImageError,
    },
    /// The image has no pixels.
    #[error("image {path} is empty ({width}x{height})")]
    Empty {
        /// The file.
        path: PathBuf,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The header declares more pixels than the limit allows; nothing was decoded.
    #[error(
        "image {path} declares {width}x{height} pixels ({}), more than the limit of {limit}; it was not decoded (a decompression bomb, or a very large photo: resize it, or raise --max-image-pixels)",
        u64::from(*width) * u64::from(*height)
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
}

/// Decodes an image file, applies its EXIF orientation and converts it to 8-bit RGB.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Read { path: path.to_path_buf(), source })?;
    decode_rgb(Cursor::new(bytes), path)
}

/// Decodes image bytes strictly and within the pixel limit (`path` is only used in messages).
pub fn decode_rgb<R: BufRead + Seek>(reader: R, path: &Path) -> Result<RgbImage, ImageError> {
    let decode_err = |source| ImageError::Decode { path: path.to_path_buf(), source };
    let limit = max_pixels();
    let mut reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|source| ImageError::Read { path: path.to_path_buf(), source })?;
    // Set on the reader, so that every decoder gets them when it is made (PNG's are fixed then).
    reader.limits(alloc_limits(limit));
    let img = if reader.format() == Some(ImageFormat::Jpeg) {
        let mut bytes = Vec::new();
        reader
            .into_inner()
            .read_to_end(&mut bytes)
            .map_err(|source| ImageError::Read { path: path.to_path_buf(), source })?;
        decode_jpeg_strict(&bytes, path, limit)?
    } else {
        let mut decoder = reader.into_decoder().map_err(decode_err)?;
        let (width, height) = decoder.dimensions();
        check_pixels(path, width, height, limit)?;
        let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img = DynamicImage::from_decoder(decoder).map_err(decode_err)?;
        img.apply_orientation(orientation);
        img
    };
    if img.width() == 0 || img.height() == 0 {
        return Err(ImageError::Empty { path: path.to_path_buf(), width: img.width(), height: img.height() });
    }
    Ok(to_rgb8(img))
}

fn check_pixels(path: &Path, width: u32, height: u32, limit: u64) -> Result<(), ImageError> {
    if u64::from(width) * u64::from(height) > limit {
        return Err(ImageError::TooLarge { path: path.to_path_buf(), width, height, limit });
    }
    Ok(())
}

/// What a decoder may allocate: the pixel budget at 16-bit RGBA (8 bytes a pixel), the widest
/// layout any of the formats decodes to, plus room for its working buffers.
fn alloc_limits(max_pixels: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    limits
}

/// JPEG through zune-jpeg in strict mode, with the colour handling of the `image` crate's own
/// JPEG decoder (RGB, RGBA, Luma, LumaA kept; CMYK, YCCK and the rest converted to RGB) and
/// its EXIF orientation.
fn decode_jpeg_strict(bytes: &[u8], path: &Path, limit: u64) -> Result<DynamicImage, ImageError> {
    match decode_jpeg(bytes, path, limit, true) {
        // libjpeg (and so Pillow) only warns about padding before a marker; zune-jpeg's
        // strict mode refuses it. Such a file is whole, so it is decoded leniently.
        Err(ImageError::Decode { source, .. }) if source.to_string().contains("Extra bytes between headers") => {
            decode_jpeg(bytes, path, limit, false)
        }
        other => other,
    }
}

fn decode_jpeg(bytes: &[u8], path: &Path, limit: u64, strict: bool) -> Result<DynamicImage, ImageError> {
    use zune_core::colorspace::ColorSpace;
    let jpeg_err = |e: zune_jpeg::errors::DecodeErrors| ImageError::Decode {
        path: path.to_path_buf(),
        source: image::ImageError::Decoding(DecodingError::new(ImageFormatHint::Exact(ImageFormat::Jpeg), e)),
    };
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(strict)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(jpeg_err)?;
    let (width, height) = decoder.dimensions().map(|(w, h)| (w as u32, h as u32)).unwrap_or((0, 0));
    check_pixels(path, width, height, limit)?;
    let orientation = decoder
        .exif()
        .and_then(|exif| image::metadata::Orientation::from_exif_chunk(exif))
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let input = decoder.input_colorspace().unwrap_or(ColorSpace::RGB);
    let out = match input {
        ColorSpace::RGB | ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA => input,
        _ => ColorSpace::RGB,
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let pixels = decoder.decode().map_err(jpeg_err)?;
    let wrong_size = || ImageError::Decode {
        path: path.to_path_buf(),
        source: image::ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            "decoded data does not match the declared dimensions",
        )),
    };
    let mut img = match out {
        ColorSpace::Luma => image::GrayImage::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8),
        ColorSpace::LumaA => image::GrayAlphaImage::from_raw(width, height, pixels).map(DynamicImage::ImageLumaA8),
        ColorSpace::RGBA => image::RgbaImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8),
        _ => RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8),
    }
    .ok_or_else(wrong_size)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Converts any decoded image to 8-bit RGB the way the reference does: grey is replicated,
/// alpha is dropped (not composited, as Pillow's `convert("RGB")`), 16-bit values are
/// rounded (`(v + 128) / 257`), floats are clamped to [0, 1] and scaled.
pub fn to_rgb8(img: DynamicImage) -> RgbImage {
    fn down(v: u16) -> u8 {
        ((u32::from(v) + 128) / 257) as u8
    }
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma8(l) => RgbImage::from_fn(w, h, |x, y| {
            let v = l.get_pixel(x, y).0[0];
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageLumaA8(l) => RgbImage::from_fn(w, h, |x, y| {
            let v = l.get_pixel(x, y).0[0];
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageRgba8(rgba) => RgbImage::from_fn(w, h, |x, y| {
            let p = rgba.get_pixel(x, y).0;
            image::Rgb([p[0], p[1], p[2]])
        }),
        DynamicImage::ImageLuma16(l) => RgbImage::from_fn(w, h, |x, y| {
            let v = down(l.get_pixel(x, y).0[0]);
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageLumaA16(l) => RgbImage::from_fn(w, h, |x, y| {
            let v = down(l.get_pixel(x, y).0[0]);
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageRgb16(p) => RgbImage::from_fn(w, h, |x, y| {
            let v = p.get_pixel(x, y).0;
            image::Rgb([down(v[0]), down(v[1]), down(v[2])])
        }),
        DynamicImage::ImageRgba16(p) => RgbImage::from_fn(w, h, |x, y| {
            let v = p.get_pixel(x, y).0;
            image::Rgb([down(v[0]), down(v[1]), down(v[2])])
        }),
        other => other.to_rgb8(),
    }
}
