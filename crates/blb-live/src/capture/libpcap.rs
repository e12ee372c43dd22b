//! libpcap capture with BPF filters (feature `pcap`).
