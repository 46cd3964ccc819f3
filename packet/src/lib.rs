//! Zero-copy packet header views.
