//! The browser entry point. The server renders every page; the browser hydrates only its
//! islands (`#[island]` components in `app`: the nav with the session store and tab sync, and
//! the session widgets), each from its `<leptos-island>` element.

// The island exports (`#[wasm_bindgen]` functions the page's island script calls by name) live
// in `app`: a crate is only linked when it is named, so name it.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the console while developing; a release build leaves the formatting
    // and the hook out of the WASM (a panic there still stops with a console error).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
