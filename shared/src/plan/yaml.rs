//! Reading a plan file: YAML into [`Plan`], and every mistake with its line. The YAML is read
//! twice: once by serde-saphyr into the typed plan (a syntax error, an unknown or misspelt key, a
//! wrong type: its own line), and once as parser events into a [`LineIndex`], so that a mistake
//! found after parsing (a cross-reference, a limit, a record shape the flip refuses) points at
//! the line of the field it names.

use std::collections::BTreeMap;
use std::fmt;

use serde_saphyr::granit_parser::{Event, Parser};

use super::Plan;

/// A line and column in the plan file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where each value of the file starts, by its path: `dns.records[3].name` (keys joined by
/// dots, sequence items by their 0-based index in brackets, as [`PlanError::path`] names them).
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    paths: BTreeMap<String, Position>,
}

impl LineIndex {
    /// The index of `text`, or the YAML syntax error (with its position) that stops it.
    pub fn of(text: &str) -> Result<Self, PlanError> {
        enum Frame {
            Map { path: String, key: Option<String> },
            Seq { path: String, next: usize },
        }
        let mut paths = BTreeMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        // The path of the node that starts now, and advance the parent past it.
        let next_path = |stack: &mut Vec<Frame>| -> Option<String> {
            match stack.last_mut() {
                None => Some(String::new()),
                Some(Frame::Seq { path, next }) => {
                    let item = format!("{path}[{next}]");
                    *next += 1;
                    Some(item)
                }
                Some(Frame::Map { path, key }) => key.take().map(|k| join(path, &k)),
            }
        };
        for item in Parser::new_from_str(text) {
            let (event, span) = item.map_err(|error| {
                let marker = error.marker();
                PlanError {
                    path: String::new(),
                    position: Some(Position {
                        line: marker.line(),
                        column: marker.col() + 1,
                    }),
                    message: format!("not valid YAML: {}", error.info()),
                }
            })?;
            let position = Position {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            match event {
                Event::Scalar(value, ..) => {
                    let is_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
                    if is_key {
                        if let Some(Frame::Map { path, key }) = stack.last_mut() {
                            let full = join(path, &value);
                            paths.entry(full).or_insert(position);
                            *key = Some(value.into_owned());
                        }
                    } else if let Some(path) = next_path(&mut stack) {
                        paths.entry(path).or_insert(position);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let is_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
                    let path = if is_key {
                        // A complex key: its contents are not addressable by a path.
                        "?".to_owned()
                    } else {
                        let path = next_path(&mut stack).unwrap_or_default();
                        paths.entry(path.clone()).or_insert(position);
                        path
                    };
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map { path, key: None }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Alias(_) => {
                    next_path(&mut stack);
                }
                _ => {}
            }
        }
        Ok(LineIndex { paths })
    }

    /// Whether the file has a value at exactly `path`.
    pub fn has(&self, path: &str) -> bool {
        self.paths.contains_key(path)
    }

    /// Where `path` starts, or the nearest enclosing value that the file has (a missing field
    /// points at the mapping that lacks it).
    pub fn position(&self, path: &str) -> Option<Position> {
        let mut path = path.to_owned();
        loop {
            if let Some(position) = self.paths.get(&path) {
                return Some(*position);
            }
            let cut = path.rfind(['.', '['])?;
            path.truncate(cut);
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// One mistake in a plan: the field it concerns (`dns.records[3].type`; empty for the file as a
/// whole), where it is in the file, and what is wrong with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub path: String,
    pub position: Option<Position>,
    pub message: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(position) = self.position {
            write!(f, "line {}: ", position.line)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A plan file read: the plan and where each of its values is.
#[derive(Debug, Clone)]
pub struct PlanFile {
    pub plan: Plan,
    pub index: LineIndex,
}

/// Reads a plan from YAML text. Errors: the first syntax error, or the first field serde
/// refuses (unknown key, wrong type, missing required field, unknown `kind` or `routing`),
/// with its position.
pub fn parse(text: &str) -> Result<PlanFile, PlanError> {
    let index = LineIndex::of(text)?;
    let options = serde_saphyr::options! { with_snippet: false };
    match serde_saphyr::from_str_with_options::<Plan>(text, options) {
        Ok(plan) => Ok(PlanFile { plan, index }),
        Err(error) => {
            let position = error.location().map(|location| Position {
                line: location.line() as usize,
                column: location.column() as usize,
            });
            let message = error.to_string();
            Err(PlanError {
                path: String::new(),
                position,
                message: strip_position(&message),
            })
        }
    }
}

/// serde-saphyr's message ends with its own " at line L, column C"; the position is kept apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

/// Renders errors as rustc does: the file, the line, the field and a caret under where it is.
pub fn render(file_name: &str, text: &str, errors: &[PlanError]) -> String {
    use annotate_snippets::renderer::DecorStyle;
    use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

    let renderer = Renderer::plain().decor_style(DecorStyle::Ascii);
    let mut out = String::new();
    for error in errors {
        let title = if error.path.is_empty() {
            error.message.clone()
        } else {
            format!("{}: {}", error.path, error.message)
        };
        let Some(position) = error.position else {
            out.push_str(&format!("error: {title}\n --> {file_name}\n\n"));
            continue;
        };
        let offset = offset_of(text, position);
        let end = text[offset..]
            .find('\n')
            .map(|n| offset + n)
            .unwrap_or(text.len())
            .max(offset + 1)
            .min(text.len());
        let report = &[Level::ERROR.primary_title(title).element(
            Snippet::source(text)
                .path(file_name)
                .fold(true)
                .annotation(AnnotationKind::Primary.span(offset..end.max(offset))),
        )];
        out.push_str(&renderer.render(report).to_string());
        out.push_str("\n\n");
    }
    out
}

fn offset_of(text: &str, position: Position) -> usize {
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        if number + 1 == position.line {
            let column = line
                .char_indices()
                .nth(position.column.saturating_sub(1))
                .map(|(byte, _)| byte)
                .unwrap_or(line.trim_end().len());
            return offset + column;
        }
        offset += line.len();
    }
    text.len()
}
