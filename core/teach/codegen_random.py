import math

# --- numpy's random numbers, in plain Python -------------------------------------------------
# gdsim draws its data sets with numpy.random.default_rng(seed). So that this script needs
# nothing but torch and still gets the very same points, here is a plain-Python copy of that
# generator: numpy's SeedSequence, its PCG64 bit generator, and the few distributions the data
# sets use (uniform, normal, permutation). You can skip this part: it only makes random numbers.


class NumpyRandom:
    """Same numbers as ``numpy.random.default_rng(seed)`` for uniform, normal and permutation."""

    MASK32, MASK64, MASK128 = 2**32 - 1, 2**64 - 1, 2**128 - 1
    PCG_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645

    def __init__(self, seed):
        # SeedSequence: hash the seed words into a pool of four 32-bit words ...
        entropy = []
        for value in seed if isinstance(seed, (list, tuple)) else [seed]:
            entropy.append(value & self.MASK32)
            value >>= 32
            while value > 0:
                entropy.append(value & self.MASK32)
                value >>= 32
        hash_const = [0x43B0D7E5]

        def hashmix(value):
            value = (value ^ hash_const[0]) & self.MASK32
            hash_const[0] = (hash_const[0] * 0x931E8875) & self.MASK32
            value = (value * hash_const[0]) & self.MASK32
            return value ^ (value >> 16)

        def mix(x, y):
            result = (0xCA01F9DD * x - 0x4973F715 * y) & self.MASK32
            return result ^ (result >> 16)

        pool = [hashmix(entropy[i] if i < len(entropy) else 0) for i in range(4)]
        for i_src in range(4):
            for i_dst in range(4):
                if i_src != i_dst:
                    pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
        for word in entropy[4:]:
            for i_dst in range(4):
                pool[i_dst] = mix(pool[i_dst], hashmix(word))
        # ... then stretch the pool into 8 words: PCG64's 128-bit state and increment.
        words, const = [], 0x8B51F9DD
        for i in range(8):
            value = pool[i % 4] ^ const
            const = (const * 0x58F38DED) & self.MASK32
            value = (value * const) & self.MASK32
            words.append(value ^ (value >> 16))
        w64 = [words[i] | (words[i + 1] << 32) for i in range(0, 8, 2)]
        self.inc = (((w64[2] << 64) | w64[3]) << 1 | 1) & self.MASK128
        self.state = 0
        self._step()
        self.state = (self.state + ((w64[0] << 64) | w64[1])) & self.MASK128
        self._step()
        self._half = None  # numpy hands out 32-bit numbers in halves of a 64-bit one
        self._tables = None

    def _step(self):
        self.state = (self.state * self.PCG_MULTIPLIER + self.inc) & self.MASK128

    def next_uint64(self):
        self._step()
        s = self.state
        value, rot = ((s >> 64) ^ s) & self.MASK64, s >> 122
        return ((value >> rot) | (value << (64 - rot))) & self.MASK64

    def next_uint32(self):
        if self._half is not None:
            value, self._half = self._half, None
            return value
        value = self.next_uint64()
        self._half = value >> 32
        return value & self.MASK32

    def next_double(self):
        """A float in [0, 1): 53 random bits."""
        return (self.next_uint64() >> 11) * (1.0 / 9007199254740992.0)

    def uniform(self, low, high, n):
        return [low + (high - low) * self.next_double() for _ in range(n)]

    def normal(self, loc, scale, n):
        return [loc + scale * self.standard_normal() for _ in range(n)]

    def permutation(self, n):
        """The numbers 0..n-1 in random order (a Fisher-Yates shuffle, as numpy does it)."""
        items = list(range(n))
        for i in reversed(range(1, n)):
            j = self._interval(i)
            items[i], items[j] = items[j], items[i]
        return items

    def _interval(self, high):
        """A whole number in 0..high, unbiased: random bits under a mask, retried if too big."""
        mask = high
        for shift in (1, 2, 4, 8, 16, 32):
            mask |= mask >> shift
        draw = self.next_uint32 if high <= self.MASK32 else self.next_uint64
        while True:
            value = draw() & mask
            if value <= high:
                return value

    def standard_normal(self):
        """One draw of N(0, 1) by numpy's ziggurat method (256 layers, 52-bit)."""
        if self._tables is None:
            self._tables = self._ziggurat_tables()
        ki, wi, fi, r = self._tables
        while True:
            bits = self.next_uint64()
            idx = bits & 0xFF
            bits >>= 8
            sign = bits & 1
            rabs = (bits >> 1) & 0x000FFFFFFFFFFFFF
            x = rabs * wi[idx]
            if sign:
                x = -x
            if rabs < ki[idx]:
                return x  # 99.3% of the time
            if idx == 0:  # the tail beyond r
                while True:
                    xx = -0.27366123732975827 * math.log1p(-self.next_double())
                    yy = -math.log1p(-self.next_double())
                    if yy + yy > xx * xx:
                        return -(r + xx) if (rabs >> 8) & 1 else r + xx
            elif (fi[idx - 1] - fi[idx]) * self.next_double() + fi[idx] < math.exp(-0.5 * x * x):
                return x

    @staticmethod
    def _ziggurat_tables():
        # numpy ships these tables precomputed; recomputing them here in float64 gives values
        # within an ulp or two of numpy's, so a draw can differ from numpy's by ~1e-15 (far below
        # what the float32 data set can hold).
        r, v, m = 3.6541528853610088, 0.004928673233974651, 2.0**52
        ki, wi, fi = [0] * 256, [0.0] * 256, [0.0] * 256
        f = math.exp(-0.5 * r * r)
        q = v / f
        ki[0], wi[0], wi[255], fi[0], fi[255] = int(r / q * m), q / m, r / m, 1.0, f
        x = r
        for i in range(254, 0, -1):
            previous, x = x, math.sqrt(-2.0 * math.log(v / x + math.exp(-0.5 * x * x)))
            ki[i + 1] = int(x / previous * m)
            fi[i], wi[i] = math.exp(-0.5 * x * x), x / m
        return ki, wi, fi, r
