//! A real Linux VM under QEMU (TCG) whose NICs are virtio-net over vhost-user, driven through its
//! serial console.
//!
//! The guest is Debian's cloud kernel with a busybox initramfs built once per test process by
//! `tests/guest/mkinitramfs.sh`; its `/init` loads the virtio-net driver and leaves a shell on
//! `ttyS0` with echo and prompt off. QEMU's serial port is its stdio: the test writes a command
//! followed by `echo @@<n> $?`, and a reader thread collects stdout until that marker comes back,
//! so each command's output and exit status are matched exactly. Guest RAM is a shared memfd,
//! as vhost-user needs. QEMU is killed on drop.
//!
//! QEMU 7.2 (Debian 12) sets up MSI-X interrupts for vhost through KVM-only code and crashes
//! under TCG, so by default the NIC gets `vectors=0` (INTx); `Nic::msix` asks for MSI-X, which a
//! newer QEMU (`DVS_QEMU=/path/to/qemu-system-x86_64`) supports under TCG. `DVS_GUEST_MSIX=1`
//! makes MSI-X the default, to run every guest test on such a QEMU with MSI-X.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a guest may take to boot to its shell (TCG on a busy 2-core machine).
pub const BOOT: Duration = Duration::from_secs(120);

/// One virtio-net NIC on a vhost-user socket.
#[derive(Clone, Debug)]
pub struct Nic {
    /// The vhost-user socket.
    pub socket: PathBuf,
    /// QEMU listens on the socket (the switch is the vhost-user client).
    pub qemu_server: bool,
    /// MAC of the guest's NIC.
    pub mac: [u8; 6],
    /// Queue pairs (virtio-net `mq`).
    pub queues: u16,
    /// MSI-X vectors instead of INTx.
    pub msix: bool,
    /// QEMU's `host_mtu` (virtio-net `VIRTIO_NET_F_MTU`): the MTU QEMU tells the guest the
    /// host supports; `None` leaves it out.
    pub host_mtu: Option<u16>,
}

impl Nic {
    /// One queue pair, INTx (MSI-X with `DVS_GUEST_MSIX` set); `qemu_server` says who listens.
    pub fn new(socket: &Path, qemu_server: bool, mac: [u8; 6]) -> Nic {
        Nic {
            socket: socket.to_path_buf(),
            qemu_server,
            mac,
            queues: 1,
            msix: std::env::var_os("DVS_GUEST_MSIX").is_some(),
            host_mtu: None,
        }
    }

    /// Give the NIC QEMU's `host_mtu=mtu`.
    pub fn host_mtu(mut self, mtu: u16) -> Nic {
        self.host_mtu = Some(mtu);
        self
    }

    /// Offer `n` queue pairs.
    pub fn queues(mut self, n: u16) -> Nic {
        self.queues = n;
        self
    }

    /// Use MSI-X (needs a QEMU whose TCG path supports it for vhost).
    pub fn msix(mut self, on: bool) -> Nic {
        self.msix = on;
        self
    }
}

/// The QEMU binary: `DVS_QEMU` or `qemu-system-x86_64` from `PATH`.
pub fn qemu_binary() -> String {
    std::env::var("DVS_QEMU").unwrap_or_else(|_| "qemu-system-x86_64".into())
}

/// Newest Debian cloud kernel image installed under /boot.
fn kernel() -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-") && n.ends_with("-cloud-amd64"))
        })
        .collect();
    v.sort();
    v.pop()
}

/// True when QEMU, a cloud kernel and the initramfs tools are there; otherwise prints why the
/// calling test skips.
pub fn available(test: &str) -> bool {
    let qemu = Command::new(qemu_binary())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !qemu {
        eprintln!(
            "skipping {test}: {} not found (apt-get install qemu-system-x86)",
            qemu_binary()
        );
        return false;
    }
    if kernel().is_none() || !Path::new("/bin/busybox").exists() {
        eprintln!(
            "skipping {test}: needs /boot/vmlinuz-*-cloud-amd64 and /bin/busybox \
             (apt-get install linux-image-cloud-amd64 busybox-static)"
        );
        return false;
    }
    true
}

/// The initramfs: built by `tests/guest/mkinitramfs.sh` once for a given script, `/init` and
/// kernel, and kept in the temporary directory under a name derived from them, so test processes
/// share it (the script writes a private file and renames it into place).
fn initramfs() -> &'static Path {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("guest");
        let script = dir.join("mkinitramfs.sh");
        let mut inputs = Vec::new();
        for f in [&script, &dir.join("init")] {
            inputs.extend(std::fs::read(f).unwrap_or_default());
        }
        let kernel = kernel().unwrap_or_default();
        inputs.extend(kernel.to_string_lossy().as_bytes());
        let out = std::env::temp_dir().join(format!("dvs-guest-{:016x}.cpio.gz", fnv1a(&inputs)));
        if !out.exists() {
            let st = Command::new("bash")
                .arg(&script)
                .arg(&out)
                .status()
                .expect("run mkinitramfs.sh");
            assert!(st.success(), "{} failed", script.display());
        }
        out
    })
}

/// FNV-1a, to name the cached initramfs after what it was built from.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A running VM.
pub struct Guest {
    /// Name used in messages.
    pub name: String,
    /// The QEMU binary.
    qemu: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    /// QEMU's own stderr (kept apart so it cannot split a console line).
    err: Arc<Mutex<String>>,
    /// Where in `out` the next command's output starts.
    pos: usize,
    seq: u64,
    nics: Vec<Nic>,
    /// QEMU's monitor socket.
    monitor: PathBuf,
}

impl Guest {
    /// Boot a guest with `nics`, and wait for its shell. QEMU does not start the guest before
    /// every vhost-user NIC is connected: as client (`qemu_server == false`) it needs the
    /// switch's socket already listening; as server, see [`Guest::spawn_on`].
    pub fn start(name: &str, nics: &[Nic]) -> Guest {
        let mut g = Guest::spawn_on(&qemu_binary(), name, nics);
        g.wait_ready();
        g
    }

    /// Start QEMU without waiting for the guest: with `qemu_server` NICs QEMU waits for the
    /// switch to connect before the guest runs, so start the switch, then
    /// [`Guest::wait_ready`].
    pub fn spawn_on(qemu: &str, name: &str, nics: &[Nic]) -> Guest {
        let mut g = Guest {
            qemu: qemu.to_string(),
            name: name.to_string(),
            child: None,
            stdin: None,
            out: Arc::new(Mutex::new(String::new())),
            err: Arc::new(Mutex::new(String::new())),
            pos: 0,
            seq: 0,
            nics: nics.to_vec(),
            monitor: std::env::temp_dir().join(format!(
                "dvs-qmon-{}-{}",
                name,
                crate::unique_tag()
            )),
        };
        g.launch();
        g
    }

    /// Start QEMU; the guest's boot is awaited by [`Guest::wait_ready`].
    fn launch(&mut self) {
        let kernel = kernel().expect("cloud kernel");
        let mut cmd = Command::new(&self.qemu);
        cmd.args(["-accel", "tcg", "-m", "256", "-smp", "1", "-nodefaults"])
            .args(["-display", "none", "-no-user-config"])
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(initramfs())
            .args(["-append", "console=ttyS0 panic=-1 quiet"])
            .args(["-object", "memory-backend-memfd,id=mem0,size=256M,share=on"])
            .args(["-numa", "node,memdev=mem0"])
            .args([
                "-chardev",
                "stdio,id=con,signal=off",
                "-serial",
                "chardev:con",
            ])
            .arg("-monitor")
            .arg(format!(
                "unix:{},server=on,wait=off",
                self.monitor.display()
            ));
        for (i, n) in self.nics.iter().enumerate() {
            let role = if n.qemu_server {
                ",server=on,wait=off"
            } else {
                ",reconnect=1"
            };
            let vectors = if n.msix { 2 * n.queues + 2 } else { 0 };
            cmd.arg("-chardev")
                .arg(format!(
                    "socket,id=chr{i},path={}{role}",
                    n.socket.display()
                ))
                .arg("-netdev")
                .arg(format!(
                    "vhost-user,id=net{i},chardev=chr{i},queues={}",
                    n.queues
                ))
                .arg("-device")
                .arg(format!(
                    "virtio-net-pci,netdev=net{i},mac={},vectors={vectors}{}{}",
                    crate::mac_str(n.mac),
                    if n.queues > 1 { ",mq=on" } else { "" },
                    n.host_mtu
                        .map(|m| format!(",host_mtu={m}"))
                        .unwrap_or_default()
                ));
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn qemu");
        self.out = Arc::new(Mutex::new(String::new()));
        self.pos = 0;
        let (stdout, out) = (child.stdout.take().expect("stdout"), self.out.clone());
        std::thread::spawn(move || collect(stdout, &out));
        let (stderr, err) = (child.stderr.take().expect("stderr"), self.err.clone());
        std::thread::spawn(move || collect(stderr, &err));
        self.stdin = child.stdin.take();
        self.child = Some(child);
    }

    /// Wait for the `GUEST_READY` line of a (re)boot, after the output already consumed.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + BOOT;
        loop {
            {
                let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(i) = out[self.pos..].find("GUEST_READY") {
                    let start = self.pos + i;
                    if let Some(nl) = out[start..].find('\n') {
                        self.pos = start + nl + 1;
                        return;
                    }
                }
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "{}: qemu exited ({st}) before the guest was up:\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: guest did not boot within {BOOT:?}:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything the console printed so far (since the last QEMU start).
    pub fn output(&self) -> String {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What QEMU itself printed on stderr (warnings, errors), over all its starts.
    pub fn qemu_log(&self) -> String {
        self.err.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Run a shell command in the guest; returns (exit status, output). Panics when it does not
    /// finish within `timeout`.
    pub fn sh_timeout(&mut self, cmd: &str, timeout: Duration) -> (i32, String) {
        self.seq += 1;
        let marker = format!("@@{}@@", self.seq);
        let line = format!("{cmd}\necho {marker} $?\n");
        let stdin = self.stdin.as_mut().expect("guest stdin");
        stdin
            .write_all(line.as_bytes())
            .expect("write to guest console");
        stdin.flush().expect("flush guest console");
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(i) = out[self.pos..].find(&marker) {
                    let at = self.pos + i;
                    if let Some(nl) = out[at..].find('\n') {
                        let status = out[at + marker.len()..at + nl].trim();
                        let text = out[self.pos..at].to_string();
                        let status = status.parse().unwrap_or(-1);
                        drop(out);
                        self.pos = at + nl + 1;
                        return (status, text);
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "{}: `{cmd}` did not finish within {timeout:?}:\n{}",
                self.name,
                &self.output()[self.pos..]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Guest::sh_timeout`] with 60 s.
    pub fn sh(&mut self, cmd: &str) -> (i32, String) {
        self.sh_timeout(cmd, Duration::from_secs(60))
    }

    /// Run a command that must succeed; returns its output.
    pub fn must(&mut self, cmd: &str) -> String {
        let (st, out) = self.sh(cmd);
        assert_eq!(st, 0, "{}: `{cmd}` failed ({st}):\n{out}", self.name);
        out
    }

    /// Give `eth{i}` an address and bring it up.
    pub fn ip_up(&mut self, dev: &str, cidr: &str) {
        self.must(&format!(
            "ip addr add {cidr} dev {dev} && ip link set {dev} up"
        ));
    }

    /// True when `ip link show dev` reports carrier (LOWER_UP).
    pub fn carrier(&mut self, dev: &str) -> bool {
        self.sh(&format!("cat /sys/class/net/{dev}/carrier"))
            .1
            .trim()
            == "1"
    }

    /// Wait (bounded) for carrier on `dev`.
    pub fn wait_carrier(&mut self, dev: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.carrier(dev) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        false
    }

    /// `ping` from the guest, retried a few times (the first replies may wait for ARP and for
    /// the switch to learn); true when one round got every reply.
    pub fn ping(&mut self, dst: &str) -> bool {
        (0..4).any(|_| {
            self.sh_timeout(
                &format!("ping -c 2 -W 2 {dst} >/dev/null"),
                Duration::from_secs(30),
            )
            .0 == 0
        })
    }

    /// A single round of pings that must all fail (no retries).
    pub fn ping_fails(&mut self, dst: &str) -> bool {
        self.sh_timeout(
            &format!("ping -c 2 -W 1 {dst} >/dev/null"),
            Duration::from_secs(30),
        )
        .0 != 0
    }

    /// A counter of the guest's `dev` from /sys/class/net/<dev>/statistics.
    pub fn stat(&mut self, dev: &str, name: &str) -> u64 {
        let out = self.must(&format!("cat /sys/class/net/{dev}/statistics/{name}"));
        out.trim().parse().unwrap_or(0)
    }

    /// Reboot the guest from inside (QEMU resets the machine, the device and its rings) and
    /// wait until it is up again.
    pub fn reboot(&mut self) {
        let stdin = self.stdin.as_mut().expect("guest stdin");
        stdin.write_all(b"reboot -f\n").expect("write reboot");
        let _ = stdin.flush();
        self.wait_ready();
    }

    /// Kill QEMU (SIGKILL) as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stdin = None;
    }

    /// Start QEMU again with the same NICs (after [`Guest::kill`]) and wait for the guest.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
        self.wait_ready();
    }

    /// Send one command to QEMU's human monitor and return its answer.
    pub fn monitor(&self, cmd: &str) -> String {
        let mut s = std::os::unix::net::UnixStream::connect(&self.monitor).expect("monitor");
        s.set_read_timeout(Some(Duration::from_millis(500))).ok();
        let _ = writeln!(s, "{cmd}");
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) if !out.is_empty() => break,
                Err(_) => {}
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn collect(mut r: impl Read, out: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buf[..n]).replace('\r', "");
        out.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(&text);
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.monitor);
        if std::thread::panicking() {
            eprintln!(
                "--- console of {} ---\n{}\n--- qemu stderr ---\n{}",
                self.name,
                self.output(),
                self.qemu_log()
            );
        }
    }
}
