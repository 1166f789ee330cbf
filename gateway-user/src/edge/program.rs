//! Loading, attaching and pinning the XDP program.

use std::{
    fs, io,
    path::{Path, PathBuf},
    time::Duration,
};

use aya::{
    Ebpf, EbpfLoader,
    programs::{ProgramError, TestRun, TestRunOptions, Xdp, XdpMode, xdp::XdpLinkId},
};
use gateway_common::{BASELINE_PROGRAM_NAME, PROGRAM_NAME};

use super::{EdgeLimits, EdgeMaps};

/// Where `portcullis run` pins the maps of the program on each interface.
pub const PIN_ROOT: &str = "/sys/fs/bpf/portcullis";

/// The pin directory for `iface`.
pub fn pin_dir(iface: &str) -> PathBuf {
    Path::new(PIN_ROOT).join(iface)
}

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// What can go wrong loading, attaching or reaching the program.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// This binary was built without the XDP object.
    #[error(
        "this portcullis binary was built without the XDP program (plain `cargo build`); \
         build it with `cargo xtask build` to enable the edge layer"
    )]
    ObjectUnavailable,
    /// Loading needs CAP_BPF / CAP_NET_ADMIN.
    #[error(
        "loading the XDP program needs root or CAP_BPF + CAP_NET_ADMIN (+ CAP_PERFMON on some kernels); \
         run as root, or grant them: `sudo setcap cap_bpf,cap_net_admin,cap_perfmon+ep $(which portcullis)`"
    )]
    PermissionDenied,
    /// The kernel or verifier refused the object.
    #[error("loading the XDP program failed: {0}")]
    Load(#[source] aya::EbpfError),
    /// A program or map in the object is missing or of the wrong type.
    #[error("the XDP object is inconsistent: {0}")]
    Object(String),
    /// The program failed to load or attach.
    #[error("{context}: {source}")]
    Program {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: ProgramError,
    },
    /// The named interface does not exist.
    #[error("no network interface named `{0}`")]
    UnknownInterface(String),
    /// An interface name that could not be a Linux interface.
    #[error("`{0}` is not a valid interface name (1-15 bytes of letters, digits, `-`, `_`, `.`)")]
    BadInterfaceName(String),
    /// A map operation failed.
    #[error("BPF map `{map}`: {source}")]
    Map {
        /// Which map.
        map: &'static str,
        /// The cause.
        #[source]
        source: aya::maps::MapError,
    },
    /// Pinning failed.
    #[error("pinning maps under {path}: {message}")]
    Pin {
        /// Where.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// No running instance on this interface.
    #[error(
        "no Portcullis XDP program is running on `{0}` (nothing live pinned under {PIN_ROOT}/{0}); \
         start one with `portcullis run --iface {0}`"
    )]
    NotRunning(String),
    /// Another instance already owns the interface.
    #[error("a Portcullis XDP program is already running on `{0}`; stop it first")]
    AlreadyRunning(String),
    /// Limits that failed validation; nothing was written.
    #[error(transparent)]
    Limits(#[from] super::LimitsError),
    /// Filesystem error around the pin directory.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The attach mode the kernel accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// Native XDP in the driver.
    Driver,
    /// Generic XDP in the network stack (fallback).
    Generic,
}

impl std::fmt::Display for AttachMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AttachMode::Driver => "driver (native XDP)",
            AttachMode::Generic => "generic (SKB mode)",
        })
    }
}

#[cfg(portcullis_ebpf)]
fn object_bytes() -> Result<&'static [u8], EdgeError> {
    static OBJECT: &[u8] = aya::include_bytes_aligned!(env!("PORTCULLIS_EBPF_OBJECT_PATH"));
    Ok(OBJECT)
}

#[cfg(not(portcullis_ebpf))]
fn object_bytes() -> Result<&'static [u8], EdgeError> {
    Err(EdgeError::ObjectUnavailable)
}

/// Whether this binary carries the XDP object.
pub fn object_available() -> bool {
    object_bytes().is_ok()
}

/// A loaded (and possibly attached) XDP program with its maps.
///
/// Dropping it detaches the program and, if it pinned its maps, removes the
/// pins, so nothing lingers after a clean shutdown.
pub struct EdgeProgram {
    ebpf: Ebpf,
    maps: EdgeMaps,
    attached: Option<(String, XdpLinkId, AttachMode)>,
    pinned: Option<PathBuf>,
    logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
}

impl std::fmt::Debug for EdgeProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeProgram")
            .field("attached", &self.attached)
            .field("pinned", &self.pinned)
            .finish_non_exhaustive()
    }
}

impl EdgeProgram {
    /// Loads the program into the kernel (verifier included) without
    /// attaching or pinning it, and writes `limits` to its config map. Tests
    /// and benchmarks drive it with [`Self::test_run`].
    pub fn load(limits: &EdgeLimits) -> Result<Self, EdgeError> {
        Self::load_inner(limits, None)
    }

    /// Loads the program, pins its maps under [`pin_dir`]`(iface)` for
    /// `portcullis ctl` and bpftool, and attaches it to `iface`: native
    /// (driver) mode first, generic (SKB) mode if the driver refuses.
    ///
    /// Refuses if a live instance already runs there; clears stale pins a
    /// crashed instance left behind.
    pub fn start(iface: &str, limits: &EdgeLimits) -> Result<(Self, AttachMode), EdgeError> {
        validate_iface(iface)?;
        if nix::net::if_::if_nametoindex(iface).is_err() {
            return Err(EdgeError::UnknownInterface(iface.to_owned()));
        }
        let dir = prepare_pin_dir(iface)?;
        let mut program = match Self::load_inner(limits, Some(&dir)) {
            Ok(program) => program,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let mode = program.attach(iface)?;
        Ok((program, mode))
    }

    fn load_inner(limits: &EdgeLimits, pin: Option<&Path>) -> Result<Self, EdgeError> {
        let bytes = object_bytes()?;
        raise_memlock_limit();
        let mut ebpf = EbpfLoader::new().load(bytes).map_err(|e| match &e {
            aya::EbpfError::MapError(aya::maps::MapError::CreateError { io_error, .. })
                if is_permission(io_error) =>
            {
                EdgeError::PermissionDenied
            }
            _ => EdgeError::Load(e),
        })?;
        let logger = aya_log::EbpfLogger::init(&mut ebpf).ok();
        for name in [PROGRAM_NAME, BASELINE_PROGRAM_NAME] {
            let program = xdp_mut(&mut ebpf, name)?;
            program.load().map_err(|source| match &source {
                ProgramError::SyscallError(e) if is_permission(&e.io_error) => {
                    EdgeError::PermissionDenied
                }
                _ => EdgeError::Program {
                    context: format!("loading program `{name}`"),
                    source,
                },
            })?;
        }
        let pinned = pin.map(Path::to_owned);
        let mut maps = EdgeMaps::take_from(&mut ebpf, pin)?;
        maps.set_limits(limits)?;
        Ok(Self {
            ebpf,
            maps,
            attached: None,
            pinned,
            logger,
        })
    }

    fn attach(&mut self, iface: &str) -> Result<AttachMode, EdgeError> {
        let program = xdp_mut(&mut self.ebpf, PROGRAM_NAME)?;
        let (link, mode) = match program.attach(iface, XdpMode::Driver) {
            Ok(link) => (link, AttachMode::Driver),
            Err(driver_err) => {
                tracing::debug!(error = %driver_err, "native XDP refused, trying generic mode");
                let link =
                    program
                        .attach(iface, XdpMode::Skb)
                        .map_err(|source| EdgeError::Program {
                            context: format!(
                                "attaching to `{iface}` (native mode failed: {driver_err})"
                            ),
                            source,
                        })?;
                (link, AttachMode::Generic)
            }
        };
        self.attached = Some((iface.to_owned(), link, mode));
        Ok(mode)
    }

    /// Forwards pending `aya-log` records from the kernel program to the log.
    /// Call it periodically: the ring buffer only drains when read.
    pub fn poll_logs(&mut self) {
        if let Some(logger) = &mut self.logger {
            logger.flush();
        }
    }

    /// The program's maps.
    pub fn maps(&self) -> &EdgeMaps {
        &self.maps
    }

    /// The program's maps, for writing.
    pub fn maps_mut(&mut self) -> &mut EdgeMaps {
        &mut self.maps
    }

    /// Runs the filter on one frame with `BPF_PROG_TEST_RUN`, `repeat`
    /// times; returns the XDP action and the kernel-measured mean duration.
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<(u32, Duration), EdgeError> {
        self.test_run_program(PROGRAM_NAME, frame, repeat)
    }

    /// As [`Self::test_run`], on the empty `XDP_PASS` baseline program.
    pub fn test_run_baseline(
        &self,
        frame: &[u8],
        repeat: u32,
    ) -> Result<(u32, Duration), EdgeError> {
        self.test_run_program(BASELINE_PROGRAM_NAME, frame, repeat)
    }

    fn test_run_program(
        &self,
        name: &str,
        frame: &[u8],
        repeat: u32,
    ) -> Result<(u32, Duration), EdgeError> {
        let program: &Xdp = self
            .ebpf
            .program(name)
            .ok_or_else(|| EdgeError::Object(format!("program `{name}` missing")))?
            .try_into()
            .map_err(|source| EdgeError::Program {
                context: format!("program `{name}`"),
                source,
            })?;
        let mut out = vec![0u8; frame.len() + 256];
        let opts = TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat,
            ..Default::default()
        };
        let result = program
            .test_run(opts)
            .map_err(|source| EdgeError::Program {
                context: "BPF_PROG_TEST_RUN".into(),
                source,
            })?;
        Ok((result.return_value, result.duration))
    }
}

impl Drop for EdgeProgram {
    fn drop(&mut self) {
        if let Some((iface, link, _)) = self.attached.take()
            && let Ok(program) = xdp_mut(&mut self.ebpf, PROGRAM_NAME)
            && let Err(error) = program.detach(link)
        {
            tracing::warn!(%error, iface, "detaching XDP program failed");
        }
        if let Some(dir) = self.pinned.take()
            && let Err(error) = fs::remove_dir_all(&dir)
        {
            tracing::warn!(%error, dir = %dir.display(), "removing pins failed");
        }
    }
}

fn xdp_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp, EdgeError> {
    ebpf.program_mut(name)
        .ok_or_else(|| EdgeError::Object(format!("program `{name}` missing")))?
        .try_into()
        .map_err(|source| EdgeError::Program {
            context: format!("program `{name}`"),
            source,
        })
}

fn is_permission(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

/// Rejects names that cannot be interfaces before they reach a path or a
/// C string: the name becomes a directory under the pin root.
pub(crate) fn validate_iface(iface: &str) -> Result<(), EdgeError> {
    let ok = !iface.is_empty()
        && iface.len() < libc::IFNAMSIZ
        && iface != "."
        && iface != ".."
        && iface
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(EdgeError::BadInterfaceName(iface.to_owned()))
    }
}

/// Kernels before 5.11 account BPF memory against RLIMIT_MEMLOCK.
fn raise_memlock_limit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads a valid, initialised rlimit struct; failure is
    // reported through the return value, which we only log.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    if ret != 0 {
        tracing::debug!("could not raise RLIMIT_MEMLOCK; fine on kernels >= 5.11");
    }
}

/// Makes the pin directory for `iface` ready: refuses when a live instance
/// owns it, removes stale pins otherwise.
fn prepare_pin_dir(iface: &str) -> Result<PathBuf, EdgeError> {
    ensure_bpffs()?;
    let dir = pin_dir(iface);
    if dir.exists() {
        if EdgeMaps::open_pinned(iface).is_ok() {
            return Err(EdgeError::AlreadyRunning(iface.to_owned()));
        }
        fs::remove_dir_all(&dir).map_err(|source| EdgeError::Io {
            context: format!("removing stale pins in {}", dir.display()),
            source,
        })?;
    }
    fs::create_dir_all(&dir).map_err(|source| EdgeError::Io {
        context: format!("creating {}", dir.display()),
        source,
    })?;
    Ok(dir)
}

/// Makes sure `/sys/fs/bpf` is a BPF filesystem, mounting one if needed.
fn ensure_bpffs() -> Result<(), EdgeError> {
    let root = Path::new("/sys/fs/bpf");
    let is_bpffs = nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
        .unwrap_or(false);
    if is_bpffs {
        return Ok(());
    }
    fs::create_dir_all(root).map_err(|source| EdgeError::Io {
        context: "creating /sys/fs/bpf".into(),
        source,
    })?;
    nix::mount::mount(
        Some("bpf"),
        root,
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| EdgeError::Pin {
        path: root.to_owned(),
        message: format!("/sys/fs/bpf is not a BPF filesystem and mounting one failed: {e}"),
    })
}
