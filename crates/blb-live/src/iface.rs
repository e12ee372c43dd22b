//! Interface facts: index, link type, up/down.
