//! The demo: a workspace with locations, connections, reviews and messages in several languages,
//! and a simulator that keeps sending new ones through the real webhook path.

pub mod content;
pub mod deliveries;
pub mod seed;
pub mod simulator;
