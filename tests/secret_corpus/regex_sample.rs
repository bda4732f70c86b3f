//! Strings drawn from a regular expression, as gitleaks' `secrets.NewSecret` draws a rule's
//! sample secret from its pattern: each class a random printable ASCII member, each
//! repetition a random count (lazy ones as few as allowed, unbounded ones at most 8 more than
//! their minimum), each alternation a random branch. Look-arounds (`\b`, `^`) produce nothing:
//! the caller checks that the rule's own pattern still matches what it placed.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::Rng;

/// The pattern parsed (ASCII classes first, as Go reads them), or `None`.
pub fn parse(pattern: &str) -> Option<Hir> {
    let parse = |unicode: bool| {
        regex_syntax::ParserBuilder::new()
            .unicode(unicode)
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()
    };
    parse(false).or_else(|| parse(true))
}

/// The capture group `index` of `hir`, if it has one.
pub fn group(hir: &Hir, index: u32) -> Option<&Hir> {
    match hir.kind() {
        HirKind::Capture(c) if c.index == index => Some(&c.sub),
        HirKind::Capture(c) => group(&c.sub, index),
        HirKind::Repetition(r) => group(&r.sub, index),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            subs.iter().find_map(|s| group(s, index))
        }
        _ => None,
    }
}

/// A string `hir` matches (before look-arounds are checked).
pub fn draw(rng: &mut Rng, hir: &Hir) -> String {
    let mut out = Vec::new();
    draw_into(rng, hir, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn draw_into(rng: &mut Rng, hir: &Hir, out: &mut Vec<u8>) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.extend_from_slice(&lit.0),
        HirKind::Class(class) => {
            let members = printable(class);
            if !members.is_empty() {
                out.push(members[rng.below(members.len())]);
            }
        }
        HirKind::Repetition(r) => {
            let max = r.max.unwrap_or(r.min + 8).min(r.min + 64);
            let n = if r.greedy {
                r.min + rng.below((max - r.min + 1) as usize) as u32
            } else {
                r.min
            };
            for _ in 0..n {
                draw_into(rng, &r.sub, out);
            }
        }
        HirKind::Capture(c) => draw_into(rng, &c.sub, out),
        HirKind::Concat(subs) => subs.iter().for_each(|s| draw_into(rng, s, out)),
        HirKind::Alternation(subs) => {
            let branch = rng.below(subs.len());
            draw_into(rng, &subs[branch], out);
        }
    }
}

/// The printable ASCII members of a class (space included, other whitespace not).
fn printable(class: &Class) -> Vec<u8> {
    let ranges: Vec<(u32, u32)> = match class {
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
    };
    ranges
        .into_iter()
        .flat_map(|(a, b)| a.max(0x20)..=b.min(0x7e))
        .map(|c| c as u8)
        .collect()
}
