//! Terminal graphics for thumbnails. Every colour terminal shows the half-block cells the views
//! draw; terminals that speak the kitty graphics protocol (kitty, WezTerm, Ghostty) also get
//! the real pixels placed over those cells, so a reviewer sees the stimulus at full detail.
//! The protocol is chosen from the environment (a terminal query would race the key reader)
//! and can be forced with `CLIP_AUDIT_GRAPHICS=kitty|halfblocks`. Inside tmux or screen the
//! escapes would not reach the terminal (nor inside zellij), so half blocks are used there.

use std::fmt::Write as _;

use base64::Engine as _;
use image::RgbImage;
use ratatui::layout::Rect;

/// How thumbnails reach the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Unicode half blocks only (two pixels per cell).
    HalfBlocks,
    /// Half blocks, with the image placed over them by the kitty graphics protocol.
    Kitty,
}

/// The protocol for a terminal described by `env` (a lookup of environment variables).
pub fn detect(env: impl Fn(&str) -> Option<String>) -> Protocol {
    match env("CLIP_AUDIT_GRAPHICS").as_deref() {
        Some("kitty") => return Protocol::Kitty,
        Some("halfblocks") => return Protocol::HalfBlocks,
        _ => {}
    }
    let term = env("TERM").unwrap_or_default();
    if env("TMUX").is_some() || env("ZELLIJ").is_some() || term.starts_with("screen") || term.starts_with("tmux") {
        return Protocol::HalfBlocks;
    }
    let program = env("TERM_PROGRAM").unwrap_or_default();
    if term == "xterm-kitty"
        || term == "xterm-ghostty"
        || env("KITTY_WINDOW_ID").is_some()
        || matches!(program.as_str(), "WezTerm" | "ghostty")
    {
        Protocol::Kitty
    } else {
        Protocol::HalfBlocks
    }
}

/// An image the last frame drew, and the cells its half blocks took.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Stimulus id.
    pub id: String,
    /// Cells (absolute screen coordinates).
    pub area: Rect,
}

/// Deletes every image placed by the kitty protocol (quietly: the terminal sends no reply).
pub const KITTY_CLEAR: &str = "\x1b_Ga=d,d=A,q=2\x1b\\";

/// The escapes that draw `img` over `area` with the kitty protocol: move the cursor to the
/// area's top left cell, transmit the RGB pixels (base64, in chunks of 4096 bytes as the
/// protocol requires) and display them scaled to the area's columns and rows, without moving
/// the cursor and without a reply.
pub fn kitty_place(img: &RgbImage, area: Rect) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(img.as_raw());
    let chunks: Vec<&[u8]> = data.as_bytes().chunks(4096).collect();
    let mut out = format!("\x1b[{};{}H", area.y + 1, area.x + 1);
    for (i, chunk) in chunks.iter().enumerate() {
        let more = u8::from(i + 1 < chunks.len());
        let chunk = std::str::from_utf8(chunk).unwrap_or_default();
        if i == 0 {
            let _ = write!(
                out,
                "\x1b_Ga=T,f=24,s={},v={},c={},r={},C=1,q=2,m={more};{chunk}\x1b\\",
                img.width(),
                img.height(),
                area.width,
                area.height
            );
        } else {
            // q=2 again: some terminals answer continuation chunks unless told not to.
            let _ = write!(out, "\x1b_Gm={more},q=2;{chunk}\x1b\\");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn kitty_terminals_are_recognised_and_multiplexers_are_not() {
        assert_eq!(detect(env(&[("TERM", "xterm-kitty")])), Protocol::Kitty);
        assert_eq!(detect(env(&[("TERM", "xterm-256color"), ("TERM_PROGRAM", "WezTerm")])), Protocol::Kitty);
        assert_eq!(detect(env(&[("TERM", "xterm-ghostty")])), Protocol::Kitty);
        assert_eq!(detect(env(&[("TERM", "xterm-256color")])), Protocol::HalfBlocks);
        assert_eq!(detect(env(&[("TERM", "xterm-kitty"), ("TMUX", "/tmp/tmux-0/default,1,0")])), Protocol::HalfBlocks);
        assert_eq!(detect(env(&[("TERM", "screen-256color"), ("KITTY_WINDOW_ID", "1")])), Protocol::HalfBlocks);
        assert_eq!(
            detect(env(&[("TERM", "xterm-kitty"), ("CLIP_AUDIT_GRAPHICS", "halfblocks")])),
            Protocol::HalfBlocks
        );
        assert_eq!(detect(env(&[("CLIP_AUDIT_GRAPHICS", "kitty")])), Protocol::Kitty);
        assert_eq!(detect(env(&[("TERM_PROGRAM", "WezTerm"), ("ZELLIJ", "0")])), Protocol::HalfBlocks);
    }

    #[test]
    fn kitty_escapes_carry_the_pixels_in_chunks_at_the_area() {
        // 40 x 40 RGB = 4800 bytes = 6400 base64 characters: two chunks.
        let img = RgbImage::from_fn(40, 40, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let out = kitty_place(&img, Rect::new(3, 5, 8, 4));
        assert!(out.starts_with("\x1b[6;4H\x1b_Ga=T,f=24,s=40,v=40,c=8,r=4,C=1,q=2,m=1;"), "{out:.60}");
        let parts: Vec<&str> = out.split("\x1b\\").filter(|p| !p.is_empty()).collect();
        assert_eq!(parts.len(), 2);
        assert!(parts[1].starts_with("\x1b_Gm=0,q=2;"));
        let payload: String = parts.iter().map(|p| p.rsplit_once(';').map_or("", |x| x.1)).collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(payload).unwrap();
        assert_eq!(bytes, img.as_raw().as_slice());
    }
}
