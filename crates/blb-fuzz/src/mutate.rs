//! Mutations of seed inputs, and the deterministic random numbers they draw from.

/// A small, fast, deterministic generator (xorshift64*): the same seed gives the same run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Values that often sit on a boundary of a length or a count.
const INTERESTING: [u64; 14] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

/// Mutates inputs, at most `max_len` bytes long.
#[derive(Clone, Debug)]
pub struct Mutator {
    /// The random numbers.
    pub rng: Rng,
    /// The longest input made.
    pub max_len: usize,
}

impl Mutator {
    /// A mutator with a seed.
    pub fn new(seed: u64, max_len: usize) -> Self {
        Mutator {
            rng: Rng::new(seed),
            max_len,
        }
    }

    /// A new input from `seed` (and sometimes `other`, for a splice): one to eight mutations
    /// stacked.
    pub fn mutate(&mut self, seed: &[u8], other: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&seed[..seed.len().min(self.max_len)]);
        let rounds = 1 + self.rng.below(8);
        for _ in 0..rounds {
            self.once(other, out);
        }
        out.truncate(self.max_len);
    }

    fn once(&mut self, other: &[u8], out: &mut Vec<u8>) {
        let r = &mut self.rng;
        let len = out.len();
        match r.below(10) {
            0 | 1 if len > 0 => {
                let i = r.below(len);
                out[i] ^= 1 << r.below(8);
            }
            2 if len > 0 => {
                let i = r.below(len);
                out[i] = r.next_u64() as u8;
            }
            3 if len > 0 => {
                // An interesting value, 1, 2 or 4 bytes, either byte order.
                let v = INTERESTING[r.below(INTERESTING.len())];
                let width = [1usize, 2, 4][r.below(3)];
                let at = r.below(len);
                let bytes = if r.one_in(2) {
                    v.to_le_bytes()
                } else {
                    (v << (64 - 8 * width)).to_be_bytes()
                };
                for (k, b) in bytes.iter().take(width).enumerate() {
                    if let Some(x) = out.get_mut(at + k) {
                        *x = *b;
                    }
                }
            }
            4 => {
                let at = r.below(len + 1);
                let n = 1 + r.below(32);
                let fill: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
                out.splice(at..at, fill);
            }
            5 if len > 1 => {
                let at = r.below(len);
                let n = 1 + r.below((len - at).min(64));
                out.drain(at..at + n);
            }
            6 if len > 1 => {
                let at = r.below(len);
                let n = 1 + r.below((len - at).min(64));
                let copy = out[at..at + n].to_vec();
                let to = r.below(len + 1);
                out.splice(to..to, copy);
            }
            7 if !other.is_empty() => {
                // Splice: our head, the other's tail.
                let cut = r.below(len + 1);
                let from = r.below(other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..other.len().min(from + self.max_len)]);
            }
            8 if len > 0 => {
                out.truncate(r.below(len));
            }
            _ => {
                let n = r.below(16);
                out.extend(std::iter::repeat_n(0u8, n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_bounded() {
        let seed = b"pcap seed with some length to it".to_vec();
        let run = |s: u64| {
            let mut m = Mutator::new(s, 48);
            let mut out = Vec::new();
            let mut all = Vec::new();
            for _ in 0..200 {
                m.mutate(&seed, b"other", &mut out);
                assert!(out.len() <= 48);
                all.push(out.clone());
            }
            all
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().any(|x| x != &seed[..]));
    }
}
