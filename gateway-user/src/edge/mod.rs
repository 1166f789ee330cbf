//! The kernel edge layer: loading and attaching the XDP program, pinning its
//! maps, and tuning a running instance through them.
//!
//! Decisions live in the kernel program; this module is the IO shell around
//! it: parse and validate operator input ([`Cidr`], [`EdgeLimits`]), then
//! write it to the maps ([`EdgeMaps`]).

mod cidr;
mod clock;
mod limits;
mod maps;
mod program;

pub use cidr::{Cidr, CidrError};
pub use clock::monotonic_now_ns;
pub use limits::{EdgeLimits, LimitsError, LimitsUpdate, Mode, parse_ports};
pub use maps::{CounterSnapshot, EdgeMaps, ListEntryView, ListKind, SourceView};
pub use program::{AttachMode, EdgeError, EdgeProgram, PIN_ROOT, object_available, pin_dir};
