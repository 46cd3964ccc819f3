//! Validation: from the file as written ([`super::raw`]) to the typed [`SwitchConfig`].
//!
//! Checks run in file order and stop at the first problem, which is reported with the line of
//! the offending value (byte spans from `toml::Spanned`, turned into line numbers here) and its
//! dotted field path. Cross-references (duplicate names, ofports, datapath ids, interfaces) name
//! the line of the first definition too, so both ends of a clash are easy to find.

use super::names;
use super::ports::build_ports;
use super::raw::{field_at, IntOrText, RawBridge, RawConfig, RawSwitch};
use super::read::{read_bounded, FLOWS_FILE_MAX_BYTES};
use crate::ofp::SslFile;
use datapath::config::{
    parse_controller, parse_fail_mode, parse_listen, BridgeConfig, ConfigError, FailMode, FlowLine,
    Location, OfpController, SslFiles, SwitchConfig, SwitchSection,
};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use switchd_api::{DEFAULT_RUNDIR, SOCKET_NAME};
use toml::Spanned;

/// Highest OpenFlow port number a physical or logical port may use (OFPP_MAX).
pub(super) const OFPORT_MAX: i64 = 0xffff_ff00;
/// Longest unix socket path (sun_path minus the terminating NUL).
pub(super) const SOCKET_PATH_MAX: usize = 107;
/// Most receive queues a port may ask for.
pub(super) const RXQ_MAX: i64 = 64;

/// The config text with its line index and the directory relative paths resolve against.
pub(super) struct Src<'a> {
    text: &'a str,
    path: &'a Path,
    dir: &'a Path,
    line_starts: Vec<usize>,
}

impl<'a> Src<'a> {
    fn new(text: &'a str, path: &'a Path) -> Src<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Src {
            text,
            path,
            dir: path.parent().unwrap_or(Path::new("")),
            line_starts,
        }
    }

    /// 1-based line of byte `offset`.
    pub(super) fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    pub(super) fn loc(&self, span: Range<usize>, field: &str) -> Location {
        Location {
            file: self.path.to_path_buf(),
            line: self.line(span.start),
            field: field.to_string(),
        }
    }

    pub(super) fn err(
        &self,
        span: Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::at(self.loc(span, field), message)
    }

    pub(super) fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// A TOML error (syntax or serde) as `file:line: [field: ]message`.
    fn toml_error(&self, e: &toml::de::Error, with_field: bool) -> ConfigError {
        let start = e.span().map_or(0, |s| s.start);
        let field = if with_field {
            field_at(self.text, start)
        } else {
            String::new()
        };
        let message: Vec<&str> = e.message().lines().map(str::trim).collect();
        let location = self.loc(start..start, &field);
        let message = message.join("; ");
        if with_field {
            ConfigError::Invalid { location, message }
        } else {
            ConfigError::Syntax { location, message }
        }
    }
}

/// Parse and validate `text` (from `path`) for a machine whose usable cores are `cores`.
pub(super) fn parse_with_cores(
    text: &str,
    path: &Path,
    cores: &[usize],
) -> Result<SwitchConfig, ConfigError> {
    let src = Src::new(text, path);
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(src.toml_error(&e, false));
    }
    let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_error(&e, true))?;
    let switch = build_switch(&src, raw.switch.unwrap_or_default(), cores)?;
    let bridges = build_bridges(&src, &raw.bridge, &switch)?;
    Ok(SwitchConfig {
        path: path.to_path_buf(),
        switch,
        bridges,
    })
}

/// `lo..=hi` check with the message `"{what} {n} out of range {lo}..{hi}"`.
pub(super) fn in_range(
    src: &Src,
    v: &Spanned<i64>,
    field: &str,
    what: &str,
    lo: i64,
    hi: i64,
) -> Result<i64, ConfigError> {
    let n = *v.get_ref();
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(src.err(
            v.span(),
            field,
            format!("{what} {n} out of range {lo}..{hi}"),
        ))
    }
}

pub(super) fn non_negative(src: &Src, v: &Spanned<i64>, field: &str) -> Result<u64, ConfigError> {
    u64::try_from(*v.get_ref()).map_err(|_| {
        src.err(
            v.span(),
            field,
            format!("must not be negative (got {})", v.get_ref()),
        )
    })
}

pub(super) fn vlan_id(src: &Src, v: &Spanned<i64>, field: &str) -> Result<u16, ConfigError> {
    // 1..4094 fits u16.
    in_range(src, v, field, "VLAN", 1, 4094).map(|n| n as u16)
}

/// Comma-separated ranges of ascending numbers: `0-3,8`.
fn ranges_text(values: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &v in values {
        match runs.last_mut() {
            Some((_, hi)) if *hi + 1 == v => *hi = v,
            _ => runs.push((v, v)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    parts.join(",")
}

fn build_switch(src: &Src, raw: RawSwitch, cores: &[usize]) -> Result<SwitchSection, ConfigError> {
    let (rundir, rundir_span) = match &raw.rundir {
        None => (PathBuf::from(DEFAULT_RUNDIR), 0..0),
        Some(r) if r.get_ref().is_empty() => {
            return Err(src.err(r.span(), "switch.rundir", "must not be empty"))
        }
        Some(r) => (src.resolve(r.get_ref()), r.span()),
    };
    let socket = rundir.join(SOCKET_NAME);
    if socket.as_os_str().len() > SOCKET_PATH_MAX {
        return Err(src.err(
            rundir_span,
            "switch.rundir",
            format!(
                "control socket path {} is longer than {SOCKET_PATH_MAX} bytes",
                socket.display()
            ),
        ));
    }

    let pmd_cores = match &raw.pmd_cores {
        // Default: core 0, or the first core we may use when 0 is outside our affinity mask.
        None => vec![if cores.contains(&0) {
            0
        } else {
            cores.first().copied().unwrap_or(0)
        }],
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(src.err(
                    list.span(),
                    "switch.pmd_cores",
                    "at least one PMD core is required",
                ));
            }
            let mut out = Vec::new();
            for (i, c) in list.get_ref().iter().enumerate() {
                let field = format!("switch.pmd_cores[{i}]");
                let n = *c.get_ref();
                let core = usize::try_from(n)
                    .ok()
                    .filter(|c| cores.contains(c))
                    .ok_or_else(|| {
                        src.err(
                            c.span(),
                            &field,
                            format!(
                                "core {n} is not available (usable cores: {})",
                                ranges_text(cores)
                            ),
                        )
                    })?;
                if out.contains(&core) {
                    return Err(src.err(c.span(), &field, format!("core {core} listed twice")));
                }
                out.push(core);
            }
            out
        }
    };

    let pool_frames = match &raw.pool_frames {
        None => 8192,
        // 64..=1 Mi fits u32.
        Some(v) => in_range(src, v, "switch.pool_frames", "pool_frames", 64, 1 << 20)? as u32,
    };
    let mtu = match &raw.mtu {
        None => 1500,
        Some(v) => in_range(src, v, "switch.mtu", "MTU", 576, 9000)? as u32,
    };
    let stats_interval_ms = match &raw.stats_interval_ms {
        None => 1000,
        Some(v) => non_negative(src, v, "switch.stats_interval_ms")?,
    };
    let pmd_sleep_max_us = match &raw.pmd_sleep_max_us {
        None => 0,
        // 0..=10000 is non-negative.
        Some(v) => in_range(
            src,
            v,
            "switch.pmd_sleep_max_us",
            "pmd_sleep_max_us",
            0,
            10_000,
        )? as u64,
    };
    let upcall_rate_per_port = match &raw.upcall_rate_per_port {
        None => datapath::upcall::DEFAULT_RATE,
        Some(v) => in_range(
            src,
            v,
            "switch.upcall_rate_per_port",
            "upcall_rate_per_port",
            0,
            100_000_000,
        )? as u32,
    };
    let ssl = ssl_files(src, &raw)?;
    let dpdk_eal_args = raw
        .dpdk_eal_args
        .map(|a| a.into_inner())
        .unwrap_or_default();
    let socket_group = match &raw.socket_group {
        None => None,
        Some(g) => {
            crate::access::group_id(g.get_ref())
                .map_err(|e| src.err(g.span(), "switch.socket_group", e))?;
            Some(g.get_ref().clone())
        }
    };
    Ok(SwitchSection {
        rundir,
        pmd_cores,
        pool_frames,
        mtu,
        stats_interval_ms,
        pmd_sleep_max_us,
        upcall_rate_per_port,
        dpdk_eal_args,
        remote_openflow: raw.remote_openflow.map(|v| *v.get_ref()).unwrap_or(false),
        socket_group,
        ssl,
    })
}

/// `ssl_private_key`, `ssl_certificate` and `ssl_ca_cert`: all three or none. The files are
/// read and parsed here, so a bad one is refused with its key.
fn ssl_files(src: &Src, raw: &RawSwitch) -> Result<Option<SslFiles>, ConfigError> {
    let keys = [
        (&raw.ssl_private_key, SslFile::PrivateKey),
        (&raw.ssl_certificate, SslFile::Certificate),
        (&raw.ssl_ca_cert, SslFile::CaCert),
    ];
    let field = |f: SslFile| format!("switch.{}", f.key());
    let given: Vec<(&Spanned<String>, SslFile)> = keys
        .iter()
        .filter_map(|(v, f)| v.as_ref().map(|v| (v, *f)))
        .collect();
    let Some(&(first, first_key)) = given.first() else {
        return Ok(None);
    };
    if let Some((_, missing)) = keys.iter().find(|(v, _)| v.is_none()) {
        return Err(src.err(
            first.span(),
            &field(first_key),
            format!(
                "ssl_private_key, ssl_certificate and ssl_ca_cert go together: {} is missing",
                missing.key()
            ),
        ));
    }
    for (v, f) in &given {
        if v.get_ref().is_empty() {
            return Err(src.err(v.span(), &field(*f), "must not be empty"));
        }
    }
    let path = |f: SslFile| {
        given
            .iter()
            .find(|(_, k)| *k == f)
            .map(|(v, _)| src.resolve(v.get_ref()))
            .unwrap_or_default()
    };
    let files = SslFiles {
        private_key: path(SslFile::PrivateKey),
        certificate: path(SslFile::Certificate),
        ca_cert: path(SslFile::CaCert),
    };
    crate::ofp::check_ssl(&files).map_err(|e| {
        let span = given
            .iter()
            .find(|(_, k)| *k == e.file)
            .map_or(first.span(), |(v, _)| v.span());
        src.err(span, &field(e.file), e.to_string())
    })?;
    Ok(Some(files))
}

/// The error for a TLS target without the switch's TLS files.
fn no_ssl_files(target: &dyn std::fmt::Display) -> String {
    format!(
        "{target} needs the switch's TLS files: set [switch] ssl_private_key, ssl_certificate \
         and ssl_ca_cert"
    )
}

/// A name that `rule` (one of [`super::names`]) accepts.
pub(super) fn check_name(
    src: &Src,
    v: &Spanned<String>,
    field: &str,
    rule: fn(&str) -> Result<(), String>,
) -> Result<String, ConfigError> {
    rule(v.get_ref()).map_err(|e| src.err(v.span(), field, e))?;
    Ok(v.get_ref().clone())
}

/// The bridge's OpenFlow management socket, `<rundir>/<name>.mgmt`, must fit a unix socket
/// address (the name itself was checked, so the path stays in the run directory).
fn check_mgmt_socket(
    src: &Src,
    v: &Spanned<String>,
    field: &str,
    rundir: &Path,
) -> Result<(), ConfigError> {
    let socket = rundir.join(format!("{}.mgmt", v.get_ref()));
    if socket.as_os_str().len() > SOCKET_PATH_MAX {
        return Err(src.err(
            v.span(),
            field,
            format!(
                "management socket path {} is longer than {SOCKET_PATH_MAX} bytes",
                socket.display()
            ),
        ));
    }
    Ok(())
}

fn datapath_id(src: &Src, v: &Spanned<IntOrText>, field: &str) -> Result<u64, ConfigError> {
    match v.get_ref() {
        IntOrText::Int(n) => u64::try_from(*n).map_err(|_| {
            src.err(
                v.span(),
                field,
                format!("datapath_id {n} must not be negative"),
            )
        }),
        IntOrText::Text(s) => {
            let hex = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .unwrap_or(s);
            let ok =
                !hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| u64::from_str_radix(hex, 16).ok())
                .flatten()
                .ok_or_else(|| {
                    src.err(
                        v.span(),
                        field,
                        format!(
                            "bad datapath_id \"{s}\" (expected up to 16 hex digits, e.g. \"0x1\")"
                        ),
                    )
                })
        }
    }
}

/// Lowest number >= 1 not in `taken`.
fn lowest_free(taken: &HashSet<u64>) -> u64 {
    (1..).find(|n| !taken.contains(n)).unwrap_or(0)
}

/// Switch-wide uniqueness state: name -> line of first definition.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) ports: HashMap<String, usize>,
    pub(super) interfaces: HashMap<String, String>,
}

fn build_bridges(
    src: &Src,
    raw: &[Spanned<RawBridge>],
    switch: &SwitchSection,
) -> Result<Vec<BridgeConfig>, ConfigError> {
    let (rundir, remote_openflow) = (switch.rundir.as_path(), switch.remote_openflow);
    // Explicit datapath ids first, so auto-assigned ones avoid them.
    let mut dpid_line: HashMap<u64, usize> = HashMap::new();
    let mut explicit: Vec<Option<u64>> = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let id = match &b.get_ref().datapath_id {
            None => None,
            Some(d) => {
                let field = format!("bridge[{i}].datapath_id");
                let id = datapath_id(src, d, &field)?;
                let line = src.line(d.span().start);
                if let Some(first) = dpid_line.insert(id, line) {
                    return Err(src.err(
                        d.span(),
                        &field,
                        format!("datapath_id {id:#x} already used by the bridge at line {first}"),
                    ));
                }
                Some(id)
            }
        };
        explicit.push(id);
    }
    let mut dpids_taken: HashSet<u64> = dpid_line.keys().copied().collect();

    let mut names: HashMap<String, usize> = HashMap::new();
    let mut seen = Seen::default();
    let mut out = Vec::new();
    for (i, (b, id)) in raw.iter().zip(explicit).enumerate() {
        let span = b.span();
        let b = b.get_ref();
        let prefix = format!("bridge[{i}]");
        let name_field = format!("{prefix}.name");
        let name = check_name(src, &b.name, &name_field, names::check_bridge)?;
        check_mgmt_socket(src, &b.name, &name_field, rundir)?;
        if let Some(first) = names.insert(name.clone(), src.line(b.name.span().start)) {
            return Err(src.err(
                b.name.span(),
                &name_field,
                format!("duplicate bridge name \"{name}\" (first defined at line {first})"),
            ));
        }
        let datapath_id = id.unwrap_or_else(|| {
            let n = lowest_free(&dpids_taken);
            dpids_taken.insert(n);
            n
        });
        let mac_aging_secs = match &b.mac_aging_secs {
            None => 300,
            Some(v) => non_negative(src, v, &format!("{prefix}.mac_aging_secs"))?,
        };
        let mac_limit = match &b.mac_limit {
            None => 1024,
            Some(v) => usize::try_from(non_negative(src, v, &format!("{prefix}.mac_limit"))?)
                .unwrap_or(usize::MAX),
        };
        let flows = build_flows(src, b, &prefix)?;
        let mut ofp_listen = Vec::new();
        for (j, t) in b.ofp_listen.iter().enumerate() {
            let field = format!("{prefix}.ofp_listen[{j}]");
            let l = parse_listen(t.get_ref()).map_err(|e| src.err(t.span(), &field, e))?;
            let l = match (&switch.ssl, l.is_ssl()) {
                (_, false) => l,
                (Some(files), true) => l.with_ssl(files),
                (None, true) => return Err(src.err(t.span(), &field, no_ssl_files(&l))),
            };
            if !l.is_ssl() && !l.is_loopback() && !remote_openflow {
                return Err(src.err(
                    t.span(),
                    &field,
                    format!(
                        "{l} is not a loopback address: without TLS anyone who reaches it can \
                         rewrite the flow tables; listen with pssl: instead, or set [switch] \
                         remote_openflow = true to allow it"
                    ),
                ));
            }
            ofp_listen.push(l);
        }
        let controllers = build_controllers(src, b, &prefix, switch.ssl.as_ref())?;
        let fail_mode = match &b.fail_mode {
            None => FailMode::default(),
            Some(m) => parse_fail_mode(m.get_ref())
                .map_err(|e| src.err(m.span(), &format!("{prefix}.fail_mode"), e))?,
        };
        let ports = build_ports(src, b, i, &mut seen, switch.mtu)?;
        out.push(BridgeConfig {
            name,
            datapath_id,
            mac_aging_secs,
            mac_limit,
            flows,
            ofp_listen,
            controllers,
            fail_mode,
            ports,
            location: src.loc(span, &prefix),
        });
    }
    Ok(out)
}

/// `controllers`: each a `tcp:` or `ssl:` target (these with the switch's TLS files `ssl`),
/// none listed twice.
fn build_controllers(
    src: &Src,
    b: &RawBridge,
    prefix: &str,
    ssl: Option<&SslFiles>,
) -> Result<Vec<OfpController>, ConfigError> {
    let mut out: Vec<OfpController> = Vec::new();
    for (j, t) in b.controllers.iter().enumerate() {
        let field = format!("{prefix}.controllers[{j}]");
        let c = parse_controller(t.get_ref().trim()).map_err(|e| src.err(t.span(), &field, e))?;
        let c = match (ssl, c.is_ssl()) {
            (_, false) => c,
            (Some(files), true) => c.with_ssl(files),
            (None, true) => return Err(src.err(t.span(), &field, no_ssl_files(&c))),
        };
        if let Some(first) = out.iter().position(|o| *o == c) {
            return Err(src.err(
                t.span(),
                &field,
                format!("controller {c} is already listed as {prefix}.controllers[{first}]"),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

fn build_flows(src: &Src, b: &RawBridge, prefix: &str) -> Result<Vec<FlowLine>, ConfigError> {
    let mut flows = Vec::new();
    for (j, f) in b.flows.iter().enumerate() {
        let field = format!("{prefix}.flows[{j}]");
        let text = f.get_ref().trim();
        if text.is_empty() {
            return Err(src.err(f.span(), &field, "empty flow"));
        }
        flows.push(FlowLine {
            text: text.to_string(),
            source: src.loc(f.span(), &field),
        });
    }
    if let Some(file) = &b.flows_file {
        let field = format!("{prefix}.flows_file");
        let path = src.resolve(file.get_ref());
        let text = read_bounded(&path, FLOWS_FILE_MAX_BYTES).map_err(|e| {
            src.err(
                file.span(),
                &field,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        flows.extend(flow_file_lines(&text, &path, &field));
    }
    Ok(flows)
}

/// The flows of a flows file: one per line; blank lines and lines starting with `#` skipped.
pub(super) fn flow_file_lines(text: &str, file: &Path, field: &str) -> Vec<FlowLine> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let t = line.trim();
            (!t.is_empty() && !t.starts_with('#')).then(|| FlowLine {
                text: t.to_string(),
                source: Location {
                    file: file.to_path_buf(),
                    line: i + 1,
                    field: field.to_string(),
                },
            })
        })
        .collect()
}
