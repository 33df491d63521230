//! What the widget's `no_std` wasm modules (the tracker, lead delivery) share: the visitor's
//! history (`history`: the tracker keeps it, a lead summarises it), a JSON writer (`json`)
//! and reader (`value`), a small UTF-8 check (`utf8`), and, in wasm, a small allocator and a
//! panic handler that traps.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod history;
pub mod json;
pub mod utf8;
pub mod value;

/// What `std`'s prelude would bring. The modules are `no_std`: `std`'s panic and formatting
/// machinery would be kilobytes shipped to every visitor.
pub mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
}

/// A panic (a bug) traps: the bootstrap's guard catches the trap, the page goes on.
#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// A small free-list allocator: dlmalloc alone was about 7 KB of the module.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without atomics runs these modules on one thread only.
#[allow(unsafe_code)]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// A module's one state (its tracker, its delivery), in a `static`. wasm32 without atomics
/// runs these modules on a single thread, so a `RefCell` in a static is sound; an exported
/// class or `thread_local!` each cost kilobytes.
pub struct Single<T>(core::cell::RefCell<Option<T>>);

// SAFETY: wasm32-unknown-unknown without atomics has exactly one thread.
#[allow(unsafe_code)]
unsafe impl<T> Sync for Single<T> {}

impl<T> Single<T> {
    pub const fn new() -> Self {
        Self(core::cell::RefCell::new(None))
    }

    /// Sets the state (unless a call is in progress).
    #[inline(always)]
    pub fn set(&self, value: T) {
        if let Ok(mut slot) = self.0.try_borrow_mut() {
            *slot = Some(value);
        }
    }

    /// `f`'s answer on the state; `R::default()` when there is none yet or when called
    /// re-entrantly (an event raised while another is handled is dropped).
    #[inline(always)]
    pub fn with<R: Default>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        match self.0.try_borrow_mut() {
            Ok(mut slot) => slot.as_mut().map_or_else(R::default, f),
            Err(_) => R::default(),
        }
    }
}

impl<T> Default for Single<T> {
    fn default() -> Self {
        Self::new()
    }
}
