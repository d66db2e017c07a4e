// HPACK against the examples of RFC 7541 Appendix C, plus the failure cases a peer can provoke.
import t from 'tap';
import { HpackError } from './errors.js';
import { DynamicTable, HpackDecoder, HpackEncoder, decodeInteger, encodeInteger, type HeaderField } from './hpack.js';
import { huffmanDecode, huffmanEncode } from './huffman.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('C.1 integer representation', async (t) => {
  for (const [v, prefix, bytes] of [
    [10, 5, '0a'],
    [1337, 5, '1f9a0a'],
    [42, 8, '2a'],
  ] as const) {
    const out: number[] = [];
    encodeInteger(out, v, prefix, 0);
    t.equal(Buffer.from(out).toString('hex'), bytes, `encode ${v} with a ${prefix}-bit prefix`);
    t.same(decodeInteger(hex(bytes), 0, prefix), { value: v, next: bytes.length / 2 }, `decode ${bytes}`);
  }
  t.throws(() => decodeInteger(hex('1fffffffff0f'), 0, 5), HpackError, 'an integer past 2^31 is refused');
  t.throws(() => decodeInteger(hex('1f9a'), 0, 5), HpackError, 'a truncated integer is refused');
});

t.test('C.2 header field representations', async (t) => {
  const cases: [string, string, HeaderField, number][] = [
    ['C.2.1 literal with indexing', '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', ['custom-key', 'custom-header'], 55],
    ['C.2.2 literal without indexing', '040c 2f73 616d 706c 652f 7061 7468', [':path', '/sample/path'], 0],
    ['C.2.3 literal never indexed', '1008 7061 7373 776f 7264 0673 6563 7265 74', ['password', 'secret'], 0],
    ['C.2.4 indexed', '82', [':method', 'GET'], 0],
  ];
  for (const [name, block, field, tableSize] of cases) {
    const d = new HpackDecoder();
    t.same(d.decode(hex(block)).fields, [field], name);
    t.equal(d.dynamicTable.size, tableSize, `${name}: dynamic table size`);
  }
});

/** A request or response series: each block is decoded by the same decoder, in order. */
interface Series {
  name: string;
  tableSize: number;
  blocks: { hex: string; fields: HeaderField[]; table: HeaderField[]; size: number }[];
}

const REQ1: HeaderField[] = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2: HeaderField[] = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: HeaderField[] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const reqTables: HeaderField[][] = [[[':authority', 'www.example.com']], [['cache-control', 'no-cache'], [':authority', 'www.example.com']], [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']]];

const RES1: HeaderField[] = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RES2: HeaderField[] = [[':status', '307'], ...RES1.slice(1)];
const RES3: HeaderField[] = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];
const resTables: HeaderField[][] = [
  [
    ['location', 'https://www.example.com'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['cache-control', 'private'],
    [':status', '302'],
  ],
  [
    [':status', '307'],
    ['location', 'https://www.example.com'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['cache-control', 'private'],
  ],
  [
    ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ['content-encoding', 'gzip'],
    ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ],
];

const SERIES: Series[] = [
  {
    name: 'C.3 requests without Huffman',
    tableSize: 4096,
    blocks: [
      { hex: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', fields: REQ1, table: reqTables[0]!, size: 57 },
      { hex: '8286 84be 5808 6e6f 2d63 6163 6865', fields: REQ2, table: reqTables[1]!, size: 110 },
      { hex: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', fields: REQ3, table: reqTables[2]!, size: 164 },
    ],
  },
  {
    name: 'C.4 requests with Huffman',
    tableSize: 4096,
    blocks: [
      { hex: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', fields: REQ1, table: reqTables[0]!, size: 57 },
      { hex: '8286 84be 5886 a8eb 1064 9cbf', fields: REQ2, table: reqTables[1]!, size: 110 },
      { hex: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', fields: REQ3, table: reqTables[2]!, size: 164 },
    ],
  },
  {
    name: 'C.5 responses without Huffman (table 256)',
    tableSize: 256,
    blocks: [
      {
        hex: '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        fields: RES1,
        table: resTables[0]!,
        size: 222,
      },
      { hex: '4803 3330 37c1 c0bf', fields: RES2, table: resTables[1]!, size: 222 },
      {
        hex: '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
        fields: RES3,
        table: resTables[2]!,
        size: 215,
      },
    ],
  },
  {
    name: 'C.6 responses with Huffman (table 256)',
    tableSize: 256,
    blocks: [
      { hex: '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3', fields: RES1, table: resTables[0]!, size: 222 },
      { hex: '4883 640e ffc1 c0bf', fields: RES2, table: resTables[1]!, size: 222 },
      {
        hex: '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
        fields: RES3,
        table: resTables[2]!,
        size: 215,
      },
    ],
  },
];

for (const series of SERIES) {
  t.test(series.name, async (t) => {
    const d = new HpackDecoder(series.tableSize);
    series.blocks.forEach((b, i) => {
      const r = d.decode(hex(b.hex));
      t.same(r.fields, b.fields, `block ${i + 1}: fields`);
      const table = Array.from({ length: d.dynamicTable.length }, (_, j) => d.dynamicTable.at(j));
      t.same(table, b.table, `block ${i + 1}: dynamic table`);
      t.equal(d.dynamicTable.size, b.size, `block ${i + 1}: table size ${b.size}`);
    });
  });
}

t.test('Huffman', async (t) => {
  t.equal(huffmanEncode(Buffer.from('www.example.com')).toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff', 'C.4.1 string');
  t.equal(huffmanEncode(Buffer.from('no-cache')).toString('hex'), 'a8eb10649cbf', 'C.4.2 string');
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  t.same(huffmanDecode(huffmanEncode(all)), all, 'every octet round-trips');
  t.throws(() => huffmanDecode(hex('fe')), HpackError, 'padding that is not all ones');
  t.throws(() => huffmanDecode(hex('ffffffff')), HpackError, 'the EOS symbol');
  t.throws(() => huffmanDecode(hex('1fff')), /padding longer than 7 bits|EOS/, 'eight bits of padding');
});

t.test('decoder refusals', async (t) => {
  t.throws(() => new HpackDecoder().decode(hex('80')), /index 0/, 'index 0');
  t.throws(() => new HpackDecoder().decode(hex('be')), /past the end of the dynamic table/, 'index into an empty dynamic table');
  t.throws(() => new HpackDecoder().decode(hex('823f e11f')), /size update after a header field/, 'size update after a field');
  t.throws(() => new HpackDecoder(4096).decode(hex('3fe21f')), /exceeds the limit 4096/, 'size update above SETTINGS_HEADER_TABLE_SIZE');
  t.throws(() => new HpackDecoder().decode(hex('400a6375')), /runs past the end/, 'truncated string');
  const d = new HpackDecoder();
  d.decode(hex('400a637573746f6d2d6b65790d637573746f6d2d686561646572'));
  d.decode(hex('20'));
  t.equal(d.dynamicTable.length, 0, 'a size update to 0 empties the table');
});

t.test('header list limit: the bomb is decoded, not kept', async (t) => {
  // One 4 KiB entry, then 1,000 one-byte references to it: 4 MB of headers from 1 KiB of block.
  const big = 'x'.repeat(4000);
  const enc: number[] = [0x40];
  const name = Buffer.from('bomb');
  encodeInteger(enc, name.length, 7, 0);
  enc.push(...name);
  encodeInteger(enc, big.length, 7, 0);
  const first = Buffer.concat([Buffer.from(enc), Buffer.from(big)]);
  const refs = Buffer.alloc(1000, 0xbe);
  const d = new HpackDecoder();
  const r = d.decode(Buffer.concat([first, refs]), 64 << 10);
  t.ok(r.truncated, 'flagged');
  t.ok(r.fields.length < 20, `only ${r.fields.length} fields kept`);
  t.ok(r.listSize > 4_000_000, 'the whole size is still counted');
  t.same(d.decode(hex('be')).fields, [['bomb', big]], 'the table is still in step');
});

t.test('encoder round trip, and a peer that shrinks its table', async (t) => {
  const fields: HeaderField[] = [
    [':method', 'CONNECT'],
    [':authority', '10.244.0.10:8080'],
    ['baggage', 'k8s.namespace.name=demo'],
    ['forwarded', 'for="10.0.0.1:1234"'],
    [':status', '200'],
    ['x-odd', '\u00ff\u0000'],
  ];
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  t.same(d.decode(e.encode(fields)).fields, fields);
  t.equal(e.encode([[':status', '200']]).toString('hex'), '88', 'a full static match is one byte');
  e.setPeerTableSize(0);
  const block = e.encode([[':method', 'GET']]);
  t.equal(block.toString('hex'), '2082', 'the next block starts with a size update to 0');
  t.same(d.decode(block).fields, [[':method', 'GET']]);
  t.equal(d.dynamicTable.maxSize, 0);
});

t.test('dynamic table eviction', async (t) => {
  const table = new DynamicTable(100);
  table.add(['a', 'x'.repeat(30)]); // 63 bytes
  table.add(['b', 'y'.repeat(10)]); // 43 bytes: evicts the first
  t.equal(table.length, 1);
  t.equal(table.size, 43);
  table.add(['c', 'z'.repeat(200)]); // larger than the table: empties it
  t.equal(table.length, 0);
});
