//! Notifications: a list of toasts that `components::toasts::Toaster` shows. Info toasts go
//! away by themselves; errors stay until dismissed.
//!
//! A dismissed toast stays in the list, marked, until every toast is dismissed: the toasts shown
//! keep their places, so the view updates each one where it is (and a screen reader hears only
//! what is new) without a keyed list in the browser build.

use leptos::prelude::*;

/// How long an info toast stays.
const INFO_TOAST_MS: u64 = 6_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub id: u64,
    pub text: String,
    pub error: bool,
    /// Dismissed (or gone by itself): not shown, kept only to hold the others' places.
    pub dismissed: bool,
}

#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next_id: StoredValue<u64>,
}

impl Default for Toasts {
    fn default() -> Self {
        Self::new()
    }
}

impl Toasts {
    pub fn new() -> Self {
        Self {
            list: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(0),
        }
    }

    pub fn info(&self, text: impl Into<String>) {
        let id = self.push(text.into(), false);
        #[cfg(feature = "hydrate")]
        {
            let toasts = *self;
            set_timeout(move || toasts.dismiss(id), std::time::Duration::from_millis(INFO_TOAST_MS));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (id, INFO_TOAST_MS);
    }

    pub fn error(&self, text: impl Into<String>) {
        self.push(text.into(), true);
    }

    pub fn dismiss(&self, id: u64) {
        self.list.update(|l| {
            if let Some(t) = l.iter_mut().find(|t| t.id == id) {
                t.dismissed = true;
            }
            if l.iter().all(|t| t.dismissed) {
                l.clear();
            }
        });
    }

    /// The toasts in the order they came, dismissed ones included while any is shown.
    pub fn list(&self) -> ReadSignal<Vec<Toast>> {
        self.list.read_only()
    }

    fn push(&self, text: String, error: bool) -> u64 {
        let id = self.next_id.with_value(|n| n + 1);
        self.next_id.set_value(id);
        self.list.update(|l| {
            // The same message twice in a row is one toast.
            if !l.iter().any(|t| !t.dismissed && t.text == text && t.error == error) {
                l.push(Toast {
                    id,
                    text,
                    error,
                    dismissed: false,
                });
            }
        });
        id
    }
}

#[cfg(test)]
mod tests {
    use super::Toasts;
    use leptos::prelude::*;

    fn shown(toasts: &Toasts) -> Vec<(String, bool)> {
        toasts.list().get_untracked().into_iter().map(|t| (t.text, t.dismissed)).collect()
    }

    #[test]
    fn a_dismissed_toast_holds_its_place_until_every_toast_is_dismissed() {
        let owner = Owner::new();
        owner.set();
        let toasts = Toasts::new();
        toasts.error("a");
        toasts.error("b");
        toasts.error("b"); // the same message twice in a row is one toast
        let [a, b] = [0, 1].map(|i| toasts.list().get_untracked()[i].id);
        toasts.dismiss(a);
        assert_eq!(shown(&toasts), [("a".into(), true), ("b".into(), false)]);
        toasts.error("a"); // a dismissed message can come again
        assert_eq!(shown(&toasts), [("a".into(), true), ("b".into(), false), ("a".into(), false)]);
        toasts.dismiss(b);
        let again = toasts.list().get_untracked()[2].id;
        toasts.dismiss(again);
        assert!(toasts.list().get_untracked().is_empty());
    }
}
