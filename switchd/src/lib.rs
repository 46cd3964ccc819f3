//! The dvs-switchd daemon around the engine (`datapath`): the Open_vSwitch database front end
//! ([`dbfront`]), the OpenFlow 1.3 server ([`ofp`]) and the control-socket handlers
//! ([`control`]), which the `dvs-switchd` binary wires to a running switch. The engine and the
//! configuration file front end are in `datapath`; the management protocol is in `switchd-api`.

pub mod access;
pub mod conffile;
pub mod control;
pub mod dbfront;
pub mod ofp;
