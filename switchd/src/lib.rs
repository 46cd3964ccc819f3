//! The dvs-switchd daemon around the engine (`datapath`): the Open_vSwitch database front end
//! ([`dbfront`]) and the control-socket handlers ([`control`]), which the `dvs-switchd` binary
//! wires to a running switch. The engine, the configuration file front end and the OpenFlow
//! server are in `datapath`; the management protocol is in `switchd-api`.

pub mod control;
pub mod dbfront;
