//! The cases. Each takes a fresh store and panics on a violation.

mod events;
mod keys;
mod manager;
mod rows;

pub use events::*;
pub use keys::*;
pub use manager::*;
pub use rows::*;
