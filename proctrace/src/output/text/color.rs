//! SGR colour (ECMA-48 `ESC [ n m`), applied around a cell after it was padded, so colour
//! never changes where a column starts.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
}

impl Style {
    fn sgr(self) -> Option<&'static str> {
        Some(match self {
            Style::Plain => return None,
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Blue => "34",
            Style::Magenta => "35",
            Style::Cyan => "36",
        })
    }
}

/// `text` in `style` when colour is on, as is otherwise.
pub fn paint(on: bool, style: Style, text: &str) -> String {
    match style.sgr() {
        Some(code) if on => format!("\x1b[{code}m{text}\x1b[0m"),
        _ => text.to_owned(),
    }
}
