//! Terminal graphics for thumbnails, through `ratatui-image`, so that each terminal gets the
//! best picture it can show: the kitty graphics protocol, Sixel or iTerm2's inline images
//! where the terminal speaks one, and Unicode half blocks (two pixels per cell, the upper as
//! foreground and the lower as background colour) everywhere else.
//!
//! The protocol is found by asking the terminal (ratatui-image's [`Picker`] writes a query and
//! reads the answers, once, after `run()` has entered the alternate screen and before it reads
//! a key). Without a terminal on both stdin and stdout, or when the query fails, thumbnails are
//! half blocks. Inside a multiplexer (tmux, screen, zellij) they are half blocks too, without a
//! query: images reach the outer terminal only through tmux's passthrough (off by default),
//! and screen and zellij pass none. `CLIP_AUDIT_GRAPHICS=kitty|sixel|iterm2|halfblocks` overrides the choice (in
//! tmux, ratatui-image then wraps the images for its passthrough, which it turns on); a pixel
//! protocol still asks the terminal for its cell size. Every terminal emulator answers the
//! status report the query ends with; one that answers nothing costs a 2 s wait at start and
//! its first key press (ratatui-image's reader is still waiting on stdin), which
//! `CLIP_AUDIT_GRAPHICS=halfblocks` avoids.
//!
//! Half blocks need no terminal at all: [`Graphics`] encodes them with ratatui-image's
//! half-block encoder but without a [`Picker`] (whose constructors read the environment and may
//! run `tmux`), a cell being one pixel wide and two high, so a `TestBackend` render is the same
//! everywhere.

use std::io::IsTerminal as _;

use image::DynamicImage;
use ratatui::layout::{Rect, Size};
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol as Encoded;
use ratatui_image::protocol::halfblocks::Halfblocks;
use ratatui_image::{FilterType, FontSize, Resize};

/// The environment variable that overrides the protocol.
pub const OVERRIDE: &str = "CLIP_AUDIT_GRAPHICS";

/// The most rows a thumbnail takes (a tall image is drawn narrower).
pub const MAX_ROWS: u16 = 8;

/// How thumbnails reach the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Unicode half blocks (two pixels per cell).
    HalfBlocks,
    /// The kitty graphics protocol (kitty, Ghostty, ...).
    Kitty,
    /// Sixel graphics (foot, xterm -ti vt340, mlterm, Windows Terminal, ...).
    Sixel,
    /// iTerm2's inline images (iTerm2, WezTerm, mintty, VS Code, ...).
    Iterm2,
}

impl Protocol {
    /// The protocol a value of [`OVERRIDE`] names, if any.
    pub fn named(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "halfblocks" => Some(Self::HalfBlocks),
            "kitty" => Some(Self::Kitty),
            "sixel" => Some(Self::Sixel),
            "iterm2" => Some(Self::Iterm2),
            _ => None,
        }
    }

    fn of(t: ProtocolType) -> Self {
        match t {
            ProtocolType::Halfblocks => Self::HalfBlocks,
            ProtocolType::Kitty => Self::Kitty,
            ProtocolType::Sixel => Self::Sixel,
            ProtocolType::Iterm2 => Self::Iterm2,
        }
    }

    fn protocol_type(self) -> ProtocolType {
        match self {
            Self::HalfBlocks => ProtocolType::Halfblocks,
            Self::Kitty => ProtocolType::Kitty,
            Self::Sixel => ProtocolType::Sixel,
            Self::Iterm2 => ProtocolType::Iterm2,
        }
    }
}

/// What the environment decides before the terminal is asked anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// This protocol (forced by [`OVERRIDE`], or half blocks where no query can help).
    Use(Protocol),
    /// Whatever the terminal answers to ratatui-image's query.
    Ask,
}

/// The choice for a terminal described by `env` (a lookup of environment variables);
/// `interactive` when stdin and stdout are both a terminal.
pub fn choose(env: impl Fn(&str) -> Option<String>, interactive: bool) -> Choice {
    if let Some(p) = env(OVERRIDE).as_deref().and_then(Protocol::named) {
        return Choice::Use(p);
    }
    let term = env("TERM").unwrap_or_default();
    let multiplexer = env("TMUX").is_some()
        || env("STY").is_some()
        || env("ZELLIJ").is_some()
        || term.starts_with("screen")
        || term.starts_with("tmux")
        || env("TERM_PROGRAM").as_deref() == Some("tmux");
    if multiplexer || !interactive { Choice::Use(Protocol::HalfBlocks) } else { Choice::Ask }
}

/// Turns images into thumbnails for the chosen protocol. Cloned into the thumbnail worker, which
/// encodes there (Sixel encoding is slow), so the UI only draws.
#[derive(Clone, Default)]
pub struct Graphics {
    /// The terminal's picker for a pixel protocol; `None` for half blocks.
    picker: Option<Picker>,
}

impl std::fmt::Debug for Graphics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graphics").field("protocol", &self.protocol()).finish()
    }
}

impl Graphics {
    /// Half blocks: no terminal query, the same cells on every terminal (and in tests).
    pub fn half_blocks() -> Self {
        Self { picker: None }
    }

    /// The graphics for this process's terminal, from [`choose`] and, where it says so or a
    /// pixel protocol is forced, the terminal's answer to ratatui-image's query. Call it once
    /// the terminal is in raw mode and before reading events (the query reads stdin).
    pub fn detect() -> Self {
        let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let choice = choose(|k| std::env::var(k).ok(), interactive);
        Self::for_choice(choice, || if interactive { Picker::from_query_stdio().ok() } else { None })
    }

    /// The graphics for `choice`, asking the terminal through `query` only when a pixel
    /// protocol could come of it; half blocks when the query gets no answer.
    pub fn for_choice(choice: Choice, query: impl FnOnce() -> Option<Picker>) -> Self {
        let picker = match choice {
            Choice::Use(Protocol::HalfBlocks) => None,
            Choice::Ask => query(),
            // A forced pixel protocol still needs the terminal's cell size.
            Choice::Use(p) => query().map(|mut picker| {
                picker.set_protocol_type(p.protocol_type());
                picker
            }),
        };
        // A terminal that speaks no pixel protocol gets this module's own half blocks.
        Self { picker: picker.filter(|p| p.protocol_type() != ProtocolType::Halfblocks) }
    }

    /// The protocol thumbnails are drawn with.
    pub fn protocol(&self) -> Protocol {
        self.picker.as_ref().map_or(Protocol::HalfBlocks, |p| Protocol::of(p.protocol_type()))
    }

    /// `img` scaled (up or down, keeping its shape) to `width` cells and at most [`MAX_ROWS`]
    /// rows, and encoded for the protocol; draw it with [`ratatui_image::Image`] in an area of
    /// its [`Encoded::size`].
    pub fn thumbnail(&self, img: DynamicImage, width: u16) -> Option<Encoded> {
        let bounds = Size::new(width.max(1), MAX_ROWS);
        let resize = Resize::Scale(Some(FilterType::Triangle));
        match &self.picker {
            Some(picker) => picker.new_protocol(img, bounds, resize).ok(),
            None => {
                // One pixel per half block: the scaled image is the cells, resampled once.
                let cell = FontSize::new(1, 2);
                let size = resize.size_for(&img, cell, bounds);
                let img = resize.resize(&img, cell, size, None);
                Halfblocks::new(img, size).ok().map(Encoded::Halfblocks)
            }
        }
    }
}

/// A thumbnail the last frame drew, and the cells it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Stimulus id, or for a unit's feature visualization its card anchor
    /// ([`crate::report::cards::anchor`]: `unit-<tap>-<unit>`).
    pub id: String,
    /// Cells (absolute screen coordinates).
    pub area: Rect,
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_override_selects_each_protocol_even_in_a_multiplexer_or_without_a_terminal() {
        for (name, p) in [
            ("kitty", Protocol::Kitty),
            ("sixel", Protocol::Sixel),
            ("iterm2", Protocol::Iterm2),
            ("halfblocks", Protocol::HalfBlocks),
            (" Sixel ", Protocol::Sixel),
        ] {
            assert_eq!(choose(env(&[(OVERRIDE, name)]), true), Choice::Use(p), "{name}");
            assert_eq!(choose(env(&[(OVERRIDE, name), ("TMUX", "/tmp/tmux-0/default,1,0")]), true), Choice::Use(p));
            assert_eq!(choose(env(&[(OVERRIDE, name)]), false), Choice::Use(p));
        }
        // Anything else is the automatic choice.
        assert_eq!(choose(env(&[(OVERRIDE, "auto"), ("TERM", "xterm-kitty")]), true), Choice::Ask);
    }

    #[test]
    fn a_terminal_is_asked_but_multiplexers_and_pipes_get_half_blocks() {
        let half = Choice::Use(Protocol::HalfBlocks);
        assert_eq!(choose(env(&[("TERM", "xterm-kitty")]), true), Choice::Ask);
        assert_eq!(choose(env(&[("TERM", "xterm-256color")]), true), Choice::Ask);
        assert_eq!(choose(env(&[("TERM", "xterm-kitty")]), false), half, "not a terminal");
        assert_eq!(choose(env(&[("TERM", "xterm-kitty"), ("TMUX", "/tmp/tmux-0/default,1,0")]), true), half);
        assert_eq!(choose(env(&[("TERM", "tmux-256color")]), true), half);
        assert_eq!(choose(env(&[("TERM", "xterm-256color"), ("TERM_PROGRAM", "tmux")]), true), half);
        assert_eq!(choose(env(&[("TERM", "screen-256color"), ("KITTY_WINDOW_ID", "1")]), true), half);
        assert_eq!(choose(env(&[("TERM", "xterm-256color"), ("STY", "1234.pts-0.host")]), true), half);
        assert_eq!(choose(env(&[("TERM_PROGRAM", "WezTerm"), ("ZELLIJ", "0")]), true), half);
    }

    #[test]
    fn half_blocks_ask_nothing_and_an_unanswered_query_falls_back_to_them() {
        let never = || -> Option<Picker> { panic!("half blocks query nothing") };
        assert_eq!(Graphics::for_choice(Choice::Use(Protocol::HalfBlocks), never).protocol(), Protocol::HalfBlocks);
        assert_eq!(Graphics::for_choice(Choice::Ask, || None).protocol(), Protocol::HalfBlocks);
        assert_eq!(Graphics::for_choice(Choice::Use(Protocol::Sixel), || None).protocol(), Protocol::HalfBlocks);
        assert_eq!(Graphics::half_blocks().protocol(), Protocol::HalfBlocks);
        for p in [Protocol::HalfBlocks, Protocol::Kitty, Protocol::Sixel, Protocol::Iterm2] {
            assert_eq!(Protocol::of(p.protocol_type()), p);
        }
    }

    #[test]
    fn a_half_block_thumbnail_puts_each_pixel_pair_in_its_cell() {
        // 8 x 8 pixels, even rows red and odd rows blue: at 8 cells wide, 8 x 4 cells, each
        // the upper half red on a blue lower half; the cells around it untouched.
        let img = RgbImage::from_fn(8, 8, |_, y| if y % 2 == 0 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
        let thumb = Graphics::half_blocks().thumbnail(DynamicImage::ImageRgb8(img), 8).expect("a thumbnail");
        assert_eq!(thumb.size(), Size::new(8, 4));
        let mut t = Terminal::new(TestBackend::new(12, 6)).unwrap();
        t.draw(|f| f.render_widget(ratatui_image::Image::new(&thumb), Rect::new(2, 1, 8, 4))).unwrap();
        let buf = t.backend().buffer();
        for y in 0..6 {
            for x in 0..12 {
                let c = &buf[(x, y)];
                let cell = (c.symbol(), c.fg, c.bg);
                if (2..10).contains(&x) && (1..5).contains(&y) {
                    assert_eq!(cell, ("▀", Color::Rgb(255, 0, 0), Color::Rgb(0, 0, 255)), "({x}, {y})");
                } else {
                    assert_eq!(cell, (" ", Color::Reset, Color::Reset), "({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn a_thumbnail_keeps_its_shape_within_the_rows_allowed() {
        let img = |w, h| DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb([9, 9, 9])));
        let g = Graphics::half_blocks();
        // Half a cell of height per pixel: 4:3 at 8 cells wide is 3 rows.
        assert_eq!(g.thumbnail(img(640, 480), 8).unwrap().size(), Size::new(8, 3));
        assert_eq!(g.thumbnail(img(224, 224), 8).unwrap().size(), Size::new(8, 4));
        // Very tall: at most MAX_ROWS rows, narrower.
        assert_eq!(g.thumbnail(img(100, 1000), 8).unwrap().size(), Size::new(2, MAX_ROWS));
    }
}
