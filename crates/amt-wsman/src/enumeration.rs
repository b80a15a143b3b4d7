//! Enumeration contexts (WS-Enumeration as AMT runs it).
//!
//! Choices, and why:
//! - Context names look like the firmware's (`CB000000-0000-0000-0000-000000000000`):
//!   a 32-bit counter, little-endian, in the first 8 hex digits.
//! - Enumerate takes a snapshot of the instances; Pull pages through it. A
//!   console that enumerates, changes something and pulls sees the state
//!   at Enumerate time, which is what WS-Enumeration describes.
//! - At most [`MAX_CONTEXTS`] contexts per device (the oldest is evicted)
//!   and each dies [`CONTEXT_LIFETIME`] after its last use, so a console
//!   that never finishes its pulls cannot grow a device's memory.
//! - A Pull without `MaxElements` returns everything that is left.
//!   WS-Enumeration's default is 1, but MeshCommander omits MaxElements and
//!   copes either way, and one round trip is kinder to slow CIRA links.
//!   `MaxCharacters` is not enforced (go/TS consoles send 99999, which a
//!   certificate list may exceed; the firmware's behaviour is not captured).
//! - The last page carries `EndOfSequence` and no context (MeshCentral
//!   stops pulling only then) and the context is gone afterwards.

use std::collections::VecDeque;

use time::{Duration, OffsetDateTime};

use crate::classes::{ClassInfo, Instance};
use crate::fault::Fault;
use crate::render::ItemMode;

/// Contexts one device keeps open at most.
pub const MAX_CONTEXTS: usize = 64;
/// How long a context lives after its last use.
pub const CONTEXT_LIFETIME: Duration = Duration::minutes(10);

/// A context name for counter value `id`.
pub fn format_context(id: u32) -> String {
    let b = id.to_le_bytes();
    format!(
        "{:02X}{:02X}{:02X}{:02X}-0000-0000-0000-000000000000",
        b[0], b[1], b[2], b[3]
    )
}

/// The counter value of a context name we issued.
pub fn parse_context(s: &str) -> Option<u32> {
    let s = s.trim();
    let (head, tail) = s.split_at_checked(8)?;
    if !tail.eq_ignore_ascii_case("-0000-0000-0000-000000000000") {
        return None;
    }
    let bytes = hex::decode(head).ok()?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

struct Context {
    id: u32,
    class: ClassInfo,
    mode: ItemMode,
    remaining: VecDeque<Instance>,
    expires: OffsetDateTime,
}

/// One page taken from a context.
#[derive(Debug)]
pub struct Page {
    pub class: ClassInfo,
    pub mode: ItemMode,
    pub items: Vec<Instance>,
    /// The context to pull next; `None` on the last page.
    pub next_context: Option<String>,
}

/// The open enumerations of one device.
pub struct Enumerations {
    next_id: u32,
    contexts: VecDeque<Context>,
}

impl Default for Enumerations {
    fn default() -> Self {
        Enumerations::new()
    }
}

impl std::fmt::Debug for Enumerations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enumerations")
            .field("next_id", &self.next_id)
            .field("open", &self.contexts.len())
            .finish()
    }
}

impl Enumerations {
    pub fn new() -> Self {
        Enumerations {
            next_id: 1,
            contexts: VecDeque::new(),
        }
    }

    /// Number of open contexts.
    pub fn len(&self) -> usize {
        self.contexts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contexts.is_empty()
    }

    fn prune(&mut self, now: OffsetDateTime) {
        self.contexts.retain(|c| c.expires > now);
    }

    /// Opens a context over `items` and returns its name.
    pub fn open(
        &mut self,
        class: ClassInfo,
        mode: ItemMode,
        items: Vec<Instance>,
        now: OffsetDateTime,
    ) -> String {
        self.prune(now);
        while self.contexts.len() >= MAX_CONTEXTS {
            self.contexts.pop_front();
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.contexts.push_back(Context {
            id,
            class,
            mode,
            remaining: items.into(),
            expires: now + CONTEXT_LIFETIME,
        });
        format_context(id)
    }

    /// Takes up to `max` items (all that are left when `None`) from the
    /// context of `class`.
    pub fn pull(
        &mut self,
        context: &str,
        class: &ClassInfo,
        max: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<Page, Fault> {
        self.prune(now);
        let id = parse_context(context).ok_or(Fault::InvalidEnumerationContext)?;
        let idx = self
            .contexts
            .iter()
            .position(|c| c.id == id && c.class.resource_uri == class.resource_uri)
            .ok_or(Fault::InvalidEnumerationContext)?;
        let ctx = &mut self.contexts[idx];
        // MaxElements 0 is meaningless; treat it as 1 rather than loop forever.
        let take = match max {
            Some(n) => (n.max(1) as usize).min(ctx.remaining.len()),
            None => ctx.remaining.len(),
        };
        let items: Vec<Instance> = ctx.remaining.drain(..take).collect();
        let (class, mode) = (ctx.class, ctx.mode);
        let next_context = if ctx.remaining.is_empty() {
            self.contexts.remove(idx);
            None
        } else {
            ctx.expires = now + CONTEXT_LIFETIME;
            Some(format_context(id))
        };
        Ok(Page {
            class,
            mode,
            items,
            next_context,
        })
    }

    /// Drops a context.
    pub fn release(
        &mut self,
        context: &str,
        class: &ClassInfo,
        now: OffsetDateTime,
    ) -> Result<(), Fault> {
        self.prune(now);
        let id = parse_context(context).ok_or(Fault::InvalidEnumerationContext)?;
        let idx = self
            .contexts
            .iter()
            .position(|c| c.id == id && c.class.resource_uri == class.resource_uri)
            .ok_or(Fault::InvalidEnumerationContext)?;
        self.contexts.remove(idx);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);
    const CLASS: ClassInfo = ClassInfo {
        name: "X",
        resource_uri: "urn:x",
        declares_common_namespace: false,
    };
    const OTHER: ClassInfo = ClassInfo {
        name: "Y",
        resource_uri: "urn:y",
        declares_common_namespace: false,
    };

    fn items(n: usize) -> Vec<Instance> {
        (0..n).map(|i| Instance::new().with("N", i)).collect()
    }

    #[test]
    fn context_names_are_little_endian_counters() {
        assert_eq!(format_context(0xCB), "CB000000-0000-0000-0000-000000000000");
        assert_eq!(
            format_context(0x017384),
            "84730100-0000-0000-0000-000000000000"
        );
        assert_eq!(
            parse_context("84730100-0000-0000-0000-000000000000"),
            Some(0x017384)
        );
        assert_eq!(
            parse_context("cb000000-0000-0000-0000-000000000000"),
            Some(0xCB)
        );
        assert_eq!(parse_context("CB000000-0000-0000-0000-000000000001"), None);
        assert_eq!(parse_context("XYZ"), None);
        assert_eq!(parse_context(""), None);
        assert_eq!(parse_context("ÄÄÄÄÄÄÄÄ"), None);
    }

    #[test]
    fn pages_then_end_of_sequence() {
        let mut e = Enumerations::new();
        let c = e.open(CLASS, ItemMode::Object, items(3), NOW);
        let p = e.pull(&c, &CLASS, Some(2), NOW).unwrap();
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.next_context.as_deref(), Some(c.as_str()));
        let p = e.pull(&c, &CLASS, Some(2), NOW).unwrap();
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.next_context, None);
        assert!(e.is_empty());
        assert_eq!(
            e.pull(&c, &CLASS, None, NOW).unwrap_err(),
            Fault::InvalidEnumerationContext
        );
    }

    #[test]
    fn a_context_belongs_to_its_class() {
        let mut e = Enumerations::new();
        let c = e.open(CLASS, ItemMode::Object, items(1), NOW);
        assert!(e.pull(&c, &OTHER, None, NOW).is_err());
        assert!(e.pull(&c, &CLASS, None, NOW).is_ok());
    }

    #[test]
    fn expiry_counts_from_last_use() {
        let mut e = Enumerations::new();
        let c = e.open(CLASS, ItemMode::Object, items(3), NOW);
        let later = NOW + Duration::minutes(9);
        e.pull(&c, &CLASS, Some(1), later).unwrap();
        let still = later + Duration::minutes(9);
        e.pull(&c, &CLASS, Some(1), still).unwrap();
        let dead = still + CONTEXT_LIFETIME;
        assert!(e.pull(&c, &CLASS, Some(1), dead).is_err());
    }

    #[test]
    fn oldest_context_is_evicted() {
        let mut e = Enumerations::new();
        let first = e.open(CLASS, ItemMode::Object, items(1), NOW);
        for _ in 0..MAX_CONTEXTS {
            e.open(CLASS, ItemMode::Object, items(1), NOW);
        }
        assert_eq!(e.len(), MAX_CONTEXTS);
        assert!(e.pull(&first, &CLASS, None, NOW).is_err());
    }

    #[test]
    fn release_forgets_the_context() {
        let mut e = Enumerations::new();
        let c = e.open(CLASS, ItemMode::Object, items(2), NOW);
        e.release(&c, &CLASS, NOW).unwrap();
        assert!(e.release(&c, &CLASS, NOW).is_err());
        assert!(e.pull(&c, &CLASS, None, NOW).is_err());
    }
}
