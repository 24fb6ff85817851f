//! Notifications: a list of toasts that `components::toasts::Toaster` shows. Info toasts go
//! away by themselves; errors stay until dismissed.

use leptos::prelude::*;

/// How long an info toast stays.
const INFO_TOAST_MS: u64 = 6_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub id: u64,
    pub text: String,
    pub error: bool,
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
        self.list.update(|l| l.retain(|t| t.id != id));
    }

    pub fn list(&self) -> ReadSignal<Vec<Toast>> {
        self.list.read_only()
    }

    fn push(&self, text: String, error: bool) -> u64 {
        let id = self.next_id.with_value(|n| n + 1);
        self.next_id.set_value(id);
        self.list.update(|l| {
            // The same message twice in a row is one toast.
            if !l.iter().any(|t| t.text == text && t.error == error) {
                l.push(Toast { id, text, error });
            }
        });
        id
    }
}
