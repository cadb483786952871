//! Tables for people: columns that fit the terminal, one line per row, no empty cell.
//!
//! - Width: `COLUMNS` when set (a deliberate choice, also for a pipe), else the terminal's width
//!   when standard output is one; a pipe without `COLUMNS` gets whole values, for scripts.
//! - When the table is wider, the widest columns give way first (never below their heading or
//!   [`MIN_COLUMN`]); a cut value ends in `…`.
//! - An empty cell is `-`, so `awk '{print $3}'` always finds the third column.
//! - Every cell is one escaped value (`output::escape_value`): control characters and line
//!   breaks in a name from a file cannot forge a row.

use unicode_width::UnicodeWidthStr;

/// The narrowest a column is cut to.
pub const MIN_COLUMN: usize = 6;

/// Columns are separated by two spaces.
const GAP: usize = 2;

pub struct Table {
    headings: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headings: &[&str]) -> Self {
        Table {
            headings: headings.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells and empty ones show as `-`.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells
            .into_iter()
            .map(|c| {
                if c.trim().is_empty() {
                    "-".to_string()
                } else {
                    crate::output::escape_value(&c).into_owned()
                }
            })
            .collect();
        cells.resize(self.headings.len(), "-".to_string());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table for the width of [`width`].
    pub fn render(&self) -> String {
        self.render_to(width())
    }

    /// The table cut to `limit` columns of text, or whole when `None`.
    pub fn render_to(&self, limit: Option<usize>) -> String {
        let widths = self.fit(limit);
        let mut out = String::new();
        for cells in std::iter::once(&self.headings).chain(&self.rows) {
            let last = cells.len() - 1;
            let mut line = String::new();
            for (i, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
                let cell = cut(cell, w);
                line.push_str(&cell);
                if i < last {
                    line.push_str(&" ".repeat(w - cell.width() + GAP));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn fit(&self, limit: Option<usize>) -> Vec<usize> {
        let mut widths: Vec<usize> = (0..self.headings.len())
            .map(|i| {
                std::iter::once(&self.headings)
                    .chain(&self.rows)
                    .map(|r| r[i].width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let Some(limit) = limit else {
            return widths;
        };
        let floor: Vec<usize> = self
            .headings
            .iter()
            .map(|h| h.width().max(MIN_COLUMN))
            .collect();
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * (w.len().saturating_sub(1));
        while total(&widths) > limit {
            // The widest column that can still give way.
            let Some(i) = (0..widths.len())
                .filter(|&i| widths[i] > floor[i])
                .max_by_key(|&i| widths[i])
            else {
                break;
            };
            widths[i] -= 1;
        }
        widths
    }
}

/// `text` cut to `width` columns, ending in `…` when cut.
pub fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if out.width() + c.to_string().width() + 1 > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The width tables are fitted to: `COLUMNS`, else the terminal's when standard output is one.
pub fn width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(columns);
    }
    crate::output::stdout_width()
}

/// A short class for an error text in a table cell: the words before the first `:` (the
/// whole text stays available in `--json` and in the command's own error).
pub fn error_class(text: &str) -> String {
    let head = text.split(':').next().unwrap_or(text).trim();
    cut(head, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&["NAME", "PROVIDER", "USER"]);
        t.row(vec![
            "acme-production-eu".into(),
            "oidc".into(),
            "a.very.long.user.name@example.com".into(),
        ]);
        t.row(vec!["b".into(), "".into(), "bob".into()]);
        t
    }

    #[test]
    fn a_table_fits_the_width_and_cuts_with_an_ellipsis() {
        let text = sample().render_to(Some(40));
        for line in text.lines() {
            assert!(line.width() <= 40, "{line:?}");
        }
        assert!(text.contains('…'), "{text}");
    }

    #[test]
    fn without_a_limit_values_are_whole_and_empty_cells_are_a_dash() {
        let text = sample().render_to(None);
        assert!(text.contains("a.very.long.user.name@example.com"));
        let second: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
        assert_eq!(second, ["b", "-", "bob"]);
    }

    #[test]
    fn a_cell_cannot_forge_a_row() {
        let mut t = Table::new(&["NAME"]);
        t.row(vec!["x\nfake row".into()]);
        assert_eq!(t.render_to(None).lines().count(), 2);
    }

    #[test]
    fn an_error_is_shortened_to_its_class() {
        assert_eq!(
            error_class("provider unreachable: could not connect to 127.0.0.1:9"),
            "provider unreachable"
        );
    }
}
