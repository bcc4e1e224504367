/**
 * A small, independent protobuf reader for the tests: the top-level facts of an
 * ONNX ModelProto (IR version, producer, opset imports, metadata, operator types
 * of the graph), read straight from the bytes the exporter wrote.
 */

interface Field {
  field: number;
  wire: number;
  /** Varint value (wire 0). */
  value?: bigint;
  /** Payload (wire 2). */
  bytes?: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let out = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('protobuf: truncated varint');
      out |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return out;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) yield { field, wire, value: varint() };
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new Error('protobuf: truncated field');
      yield { field, wire, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error(`protobuf: unexpected wire type ${wire}`);
  }
}

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b ?? new Uint8Array());

export interface OnnxFacts {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  operators: string[];
}

export function readOnnxFacts(buf: Uint8Array): OnnxFacts {
  const facts: OnnxFacts = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    opsets: [],
    metadata: {},
    operators: [],
  };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 0) facts.irVersion = Number(f.value);
    else if (f.field === 2) facts.producerName = text(f.bytes);
    else if (f.field === 3) facts.producerVersion = text(f.bytes);
    else if (f.field === 8) {
      const opset = { domain: '', version: 0 };
      for (const g of fields(f.bytes!)) {
        if (g.field === 1) opset.domain = text(g.bytes);
        if (g.field === 2) opset.version = Number(g.value);
      }
      facts.opsets.push(opset);
    } else if (f.field === 14) {
      let key = '';
      let value = '';
      for (const g of fields(f.bytes!)) {
        if (g.field === 1) key = text(g.bytes);
        if (g.field === 2) value = text(g.bytes);
      }
      facts.metadata[key] = value;
    } else if (f.field === 7) {
      for (const g of fields(f.bytes!)) {
        if (g.field !== 1) continue;
        for (const h of fields(g.bytes!)) if (h.field === 4) facts.operators.push(text(h.bytes));
      }
    }
  }
  return facts;
}
