//! Image decoding is strict and bounded: a file cut short is refused, never padded with grey
//! and embedded as if whole, in every format the crate reads; a small file that declares
//! enormous dimensions is refused from its header, before any pixel buffer exists. Issue 15,
//! case 2 (`fixtures/cases/truncated-jpeg/`, from a user's scraped dataset).

use std::io::Cursor;
use std::path::Path;

use clip_audit::model::ImageError;
use clip_audit::model::decode::{DEFAULT_MAX_PIXELS, decode_rgb, load_rgb};
use clip_audit::run::store::{Table, find_stores, read_run_tables, read_table};
use image::{DynamicImage, ImageFormat, RgbImage};

use crate::common::{clip_audit, fixture, root, run, texts, tiny};

fn case(name: &str) -> std::path::PathBuf {
    fixture("cases/truncated-jpeg").join(name)
}

#[test]
fn the_users_cut_files_are_refused_and_their_whole_twins_decode() {
    for name in ["whole.jpg", "whole_progressive.jpg", "whole.png"] {
        let img = load_rgb(&case(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(img.width() > 0 && img.height() > 0);
    }
    for name in ["cut.jpg", "cut_progressive.jpg", "cut.png"] {
        match load_rgb(&case(name)) {
            Err(e @ ImageError::Decode { .. }) => {
                let text = e.to_string();
                assert!(text.contains(name) && text.contains("cut short or corrupt"), "{text}");
            }
            other => panic!("{name} must be refused as undecodable, got {other:?}"),
        }
    }
}

/// A picture with detail everywhere, so every format spends bytes on every row.
fn picture() -> RgbImage {
    RgbImage::from_fn(96, 64, |x, y| {
        let h = x.wrapping_mul(2_654_435_761).wrapping_add(y.wrapping_mul(40_503)) >> 7;
        image::Rgb([(x * 5 + (h & 31)) as u8, (y * 7 + (h >> 5 & 31)) as u8, ((x ^ y) * 3) as u8])
    })
}

fn encode(format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let img = DynamicImage::ImageRgb8(picture());
    match format {
        // GIF is paletted: hand it RGBA, as the encoder quantizes that.
        ImageFormat::Gif => DynamicImage::ImageRgba8(img.to_rgba8()).write_to(&mut out, format),
        _ => img.write_to(&mut out, format),
    }
    .unwrap_or_else(|e| panic!("{format:?}: {e}"));
    out.into_inner()
}

const FORMATS: [ImageFormat; 6] =
    [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::Tiff, ImageFormat::WebP];

#[test]
fn every_format_refuses_a_file_cut_anywhere_in_its_pixel_data() {
    let mut accepted = Vec::new();
    for format in FORMATS {
        let bytes = encode(format);
        let whole = decode_rgb(Cursor::new(&bytes), Path::new("whole"))
            .unwrap_or_else(|e| panic!("{format:?} whole file: {e}"));
        assert_eq!((whole.width(), whole.height()), (96, 64));
        // Cut points from a fifth of the file to 90% of it: interrupted downloads.
        for percent in (20..=90).step_by(5) {
            let cut = bytes.len() * percent / 100;
            if decode_rgb(Cursor::new(&bytes[..cut]), Path::new("cut")).is_ok() {
                accepted.push(format!("{format:?} cut at {percent}% ({cut} of {} bytes)", bytes.len()));
            }
        }
    }
    assert!(accepted.is_empty(), "cut files decoded as if whole: {accepted:#?}");
}

fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// A PNG of a few dozen bytes whose header declares `w` x `h` RGB pixels.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        [&be32(data.len() as u32)[..], kind, data, &be32(crc.sum())].concat()
    };
    let ihdr = [&be32(w)[..], &be32(h), &[8, 2, 0, 0, 0]].concat();
    let idat = {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&[0u8; 4096]).unwrap();
        z.finish().unwrap()
    };
    [&b"\x89PNG\r\n\x1a\n"[..], &chunk(b"IHDR", &ihdr), &chunk(b"IDAT", &idat), &chunk(b"IEND", &[])].concat()
}

/// Rewrites the dimensions of an encoded file in place, format by format.
fn declare_huge(format: ImageFormat, mut bytes: Vec<u8>) -> Vec<u8> {
    match format {
        ImageFormat::Jpeg => {
            // SOF0..SOF2 marker: FF C0/C1/C2, length (2), precision (1), height (2), width (2).
            let at = bytes.windows(2).position(|w| w[0] == 0xFF && (0xC0..=0xC2).contains(&w[1])).unwrap();
            bytes[at + 5..at + 9].copy_from_slice(&[0xFF, 0xF0, 0xFF, 0xF0]);
        }
        ImageFormat::Gif => {
            // Logical screen (bytes 6..10) and the first image descriptor (after 0x2C).
            bytes[6..10].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
            let at = bytes.iter().position(|&b| b == 0x2C).unwrap();
            bytes[at + 5..at + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        }
        ImageFormat::Bmp => {
            // BITMAPINFOHEADER width and height at 18 and 22 (little-endian); the BMP decoder
            // itself refuses sides over 65535, so stay under that.
            bytes[18..22].copy_from_slice(&60_000u32.to_le_bytes());
            bytes[22..26].copy_from_slice(&60_000u32.to_le_bytes());
        }
        ImageFormat::WebP => {
            // VP8L: "RIFF" size "WEBP" "VP8L" size, signature 0x2F, then 14 bits width-1 and
            // 14 bits height-1: 16383 x 16383 (image-webp reads 16384 as 0).
            assert_eq!(&bytes[12..16], b"VP8L", "the image crate writes lossless WebP");
            let bits = u32::from_le_bytes(bytes[21..25].try_into().unwrap());
            let bits = (bits & !0x0FFF_FFFF) | 0x3FFE | (0x3FFE << 14);
            bytes[21..25].copy_from_slice(&bits.to_le_bytes());
        }
        ImageFormat::Tiff => {
            // Little-endian TIFF of one pixel in one strip: its IFD's ImageWidth (256),
            // ImageLength (257) and RowsPerStrip (278) entries, so the header stays consistent.
            let mut one = Cursor::new(Vec::new());
            DynamicImage::ImageRgb8(RgbImage::new(1, 1)).write_to(&mut one, format).unwrap();
            bytes = one.into_inner();
            let ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
            let n = u16::from_le_bytes([bytes[ifd], bytes[ifd + 1]]) as usize;
            for i in 0..n {
                let e = ifd + 2 + 12 * i;
                let tag = u16::from_le_bytes([bytes[e], bytes[e + 1]]);
                if tag == 256 || tag == 257 || tag == 278 {
                    // Type LONG, count 1, value 100000.
                    bytes[e + 2..e + 4].copy_from_slice(&4u16.to_le_bytes());
                    bytes[e + 4..e + 8].copy_from_slice(&1u32.to_le_bytes());
                    bytes[e + 8..e + 12].copy_from_slice(&100_000u32.to_le_bytes());
                }
            }
        }
        ImageFormat::Png => return png_bomb(100_000, 100_000),
        _ => unreachable!(),
    }
    bytes
}

#[test]
fn a_small_file_declaring_enormous_dimensions_is_refused_from_its_header_in_every_format() {
    for format in FORMATS {
        let bomb = declare_huge(format, encode(format));
        assert!(bomb.len() < 100_000, "{format:?}: the bomb is small");
        match decode_rgb(Cursor::new(&bomb), Path::new("bomb")) {
            Err(ImageError::TooLarge { width, height, limit, .. }) => {
                assert!(u64::from(width) * u64::from(height) > limit, "{format:?}");
                assert_eq!(limit, DEFAULT_MAX_PIXELS);
            }
            other => panic!(
                "{format:?}: a {} byte file declaring huge dimensions must be refused, got {other:?}",
                bomb.len()
            ),
        }
    }
}

#[test]
fn the_pixel_limit_is_settable_and_the_message_says_how() {
    let whole = case("whole.png");
    let out = clip_audit(&[
        "embed",
        "--model",
        tiny().to_str().unwrap(),
        "--image",
        whole.to_str().unwrap(),
        "--max-image-pixels",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = texts(&out).1;
    assert!(
        err.contains("whole.png") && err.contains("more than the limit of 1000") && err.contains("--max-image-pixels"),
        "{err}"
    );
    let bomb_dir = tempfile::tempdir().unwrap();
    let bomb = bomb_dir.path().join("bomb.png");
    std::fs::write(&bomb, png_bomb(60_000, 60_000)).unwrap();
    let out = clip_audit(&["embed", "--model", tiny().to_str().unwrap(), "--image", bomb.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", texts(&out).1);
    assert!(texts(&out).1.contains("declares 60000x60000 pixels"), "{}", texts(&out).1);
}

#[test]
fn embed_exits_2_naming_a_cut_file() {
    for name in ["cut.jpg", "cut_progressive.jpg", "cut.png"] {
        let path = case(name);
        let out = clip_audit(&["embed", "--model", tiny().to_str().unwrap(), "--image", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", texts(&out).0);
        assert!(texts(&out).1.contains(name), "{}", texts(&out).1);
    }
}

#[test]
fn run_records_cut_files_as_skipped_and_analyses_the_whole_ones() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(images.join("fr")).unwrap();
    for name in ["whole.jpg", "whole_progressive.jpg", "whole.png", "cut.jpg", "cut_progressive.jpg", "cut.png"] {
        std::fs::copy(case(name), images.join("fr").join(name)).unwrap();
    }
    let spec = dir.path().join("cut.yaml");
    let text = format!(
        "audit: cut\nmodel:\n  bundle: {r}/fixtures/models/tiny-clip\nprobes:\n  - library: {r}/probes/regions.yaml\n    family: countries\n    members: [fr]\n    stimuli:\n      images:\n        - folder: {}/{{id}}\n",
        images.display(),
        r = root().display()
    );
    std::fs::write(&spec, text).unwrap();
    // Six files of one member: the three cut ones are half of them, so allow that here.
    let out = dir.path().join("run");
    let done = run(&spec, &out, &["--max-skipped", "0.6"]);
    assert!(done.status.success(), "{}", texts(&done).1);
    let skipped = read_run_tables(std::slice::from_ref(&out), "skipped").unwrap();
    let sources: Vec<&str> = skipped.column("source").unwrap().str().unwrap().iter().flatten().collect();
    let reasons: Vec<&str> = skipped.column("reason").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(skipped.height(), 3, "{sources:?} {reasons:?}");
    for name in ["cut.jpg", "cut_progressive.jpg", "cut.png"] {
        assert!(reasons.iter().any(|r| r.contains(name)), "{name} not recorded: {reasons:?}");
    }
    // The source's account in the provenance: six files = three images + three skipped.
    let prov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance-all.json")).unwrap()).unwrap();
    let account = &prov["stimuli"]["sources"][0];
    assert_eq!(
        (&account["rows"], &account["images"], &account["skipped"]),
        (&6.into(), &3.into(), &3.into()),
        "{account}"
    );
    let stores = find_stores(std::slice::from_ref(&out)).unwrap();
    assert_eq!(read_table(&stores, Table::Images).unwrap().height(), 3, "the three whole files are analysed");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Whatever the bytes, decoding returns an image or an error; it never panics.
    #[test]
    fn corrupted_files_of_every_format_give_an_error_not_a_panic(
        format in 0..FORMATS.len(),
        flips in proptest::collection::vec((0.0f64..1.0, proptest::prelude::any::<u8>()), 1..12),
        keep in 0.05f64..1.0,
    ) {
        let mut bytes = encode(FORMATS[format]);
        for (at, value) in flips {
            let i = ((bytes.len() - 1) as f64 * at) as usize;
            bytes[i] = value;
        }
        bytes.truncate(((bytes.len() as f64) * keep).ceil() as usize);
        let _ = decode_rgb(Cursor::new(&bytes), Path::new("mutated"));
    }
}

/// Strictness refuses what is cut or corrupt, not what libjpeg and Pillow read: padding bytes
/// before a marker decode (leniently) to the same pixels, and the strict decoder gives the
/// `image` crate's own pixels for colour and greyscale JPEGs.
#[test]
fn strict_jpeg_decoding_matches_the_lenient_decoder_on_whole_files() {
    let lenient = |bytes: &[u8]| clip_audit::model::decode::to_rgb8(image::load_from_memory(bytes).unwrap());
    let rgb = encode(ImageFormat::Jpeg);
    let grey = {
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(picture()).to_luma8())
            .write_to(&mut out, ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    };
    let user = std::fs::read(case("whole.jpg")).unwrap();
    let progressive = std::fs::read(case("whole_progressive.jpg")).unwrap();
    for (name, bytes) in [("rgb", &rgb), ("grey", &grey), ("user", &user), ("progressive", &progressive)] {
        let strict = decode_rgb(Cursor::new(bytes), Path::new(name)).unwrap();
        assert!(strict == lenient(bytes), "{name}: the strict decoder's pixels differ");
    }
    // Four zero bytes before the DQT marker: libjpeg warns "extraneous bytes before marker".
    let at = user.windows(2).position(|w| w == [0xFF, 0xDB]).unwrap();
    let padded = [&user[..at], &[0, 0, 0, 0], &user[at..]].concat();
    let decoded = decode_rgb(Cursor::new(&padded), Path::new("padded.jpg")).expect("padding before a marker is read");
    assert!(decoded == lenient(&user));
}
