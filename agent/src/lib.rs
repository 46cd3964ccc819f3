//! dvs-agent (being built).
