//! OpenFlow over TLS (`pssl:` listeners and `ssl:` controllers), with rustls, as OVS's SSL
//! support works: the switch has one identity (a private key and a certificate chain, PEM) and
//! one CA certificate (PEM), and both directions verify the peer against that CA. A `pssl:`
//! listener requires a client certificate signed by the CA (mutual TLS); an `ssl:` connection
//! requires the controller's certificate to chain to the CA and presents the switch's own.
//! Names in the peer's certificate are not checked, as OVS does not check them: targets are IP
//! literals, and the CA is the switch's private trust root, so whoever holds a certificate from
//! it is admitted. (The chain itself is checked in full: signatures, validity period, CA
//! constraints, and the TLS server/client extended key usage when the certificate lists any.)
//!
//! The files are read when a listener is bound and at every connection attempt to a
//! controller, so a controller connection picks up renewed files by itself; a listener does
//! when the bridge's OpenFlow settings change or the switch restarts. Front ends check the
//! files with [`check`] so that a bad file is an error naming its setting.
//!
//! A TLS connection is a [`TlsStream`] shared by the connection's two threads: the one that
//! reads requests and the outbox thread that writes replies (see `outbox`). rustls keeps one
//! state for both directions, so the state sits behind a mutex, and the design keeps that
//! mutex away from socket I/O: the reader waits for bytes on the TCP socket holding no lock
//! (reading and writing one socket from two threads is fine), then locks the state only to
//! decrypt what arrived; the writer locks it only to encrypt, and writes the records to the
//! socket under a second lock (`send`) that keeps records whole and in order. Neither thread
//! ever waits for the network while holding the state, so a reader blocked on a silent peer
//! never delays a reply, and the caller's read timeout keeps its meaning: a read returns
//! `WouldBlock` once that long has passed without a byte of plaintext.
//!
//! The handshake runs in the connection's own thread (never in the accept loop, so a slow
//! client cannot stall accepts), bounded by [`HANDSHAKE_TIMEOUT`] and in short slices that
//! look at the stop flags, so shutdown never waits for it.

mod files;
mod stream;
#[cfg(test)]
mod tests;

pub use files::{check, client_config, server_config, SslError, SslFile};
pub(crate) use stream::TlsStream;
pub use stream::HANDSHAKE_TIMEOUT;
pub(crate) use stream::{accept, connect};
