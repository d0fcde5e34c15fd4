// Runs an ONNX model with ONNX Runtime (npm's onnxruntime-node, CPU) on .npy inputs and writes
// the first output as .npy — the outside check of hybrid's ONNX export, and ONNX Runtime's side
// of the benchmark. Never used by the library.
//
//   node tools/ort_run.js MODEL.onnx X.npy [X2.npy ...] Y.npy          one run, output written
//   node tools/ort_run.js MODEL.onnx X.npy [X2.npy ...] --time ROUNDS  median µs per run, as JSON
//
// Inputs go to the model's graph inputs in order, or by name as NAME=FILE.npy; every graph
// input must be given. .npy files of float32, float64, int64, int32 and bool (little-endian,
// C order) are read, and an output of those dtypes is written with its own.
//
// onnxruntime-node is looked for under $HB_ORT_DIR (default .cache/ort, where ./dev installs
// it with `npm install --ignore-scripts onnxruntime-node@1.30.0`).
const fs = require("fs");
const path = require("path");

const ortDir = process.env.HB_ORT_DIR || path.join(__dirname, "..", ".cache", "ort");
const ort = require(path.join(ortDir, "node_modules", "onnxruntime-node"));

// .npy descr, ONNX Runtime's tensor type and the typed array that holds it
const DTYPES = [
  { descr: "<f4", type: "float32", array: Float32Array },
  { descr: "<f8", type: "float64", array: Float64Array },
  { descr: "<i8", type: "int64", array: BigInt64Array },
  { descr: "<i4", type: "int32", array: Int32Array },
  { descr: "|b1", type: "bool", array: Uint8Array },
];

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${file}: not a .npy file`);
  const hlen = b[6] === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = b[6] === 1 ? 10 : 12;
  const header = b.toString("latin1", start, start + hlen);
  const descr = (header.match(/'descr':\s*'([^']*)'/) || [])[1];
  const dt = DTYPES.find((d) => d.descr === descr);
  const fortran = /'fortran_order':\s*True/.test(header);
  if (!dt || fortran)
    throw new Error(`${file}: '${descr}'${fortran ? " in Fortran order" : ""}; only ` +
      `${DTYPES.map((d) => d.descr).join(", ")} in C order are read`);
  const dims = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(",").map((s) => s.trim())
    .filter((s) => s.length).map(Number);
  const off = start + hlen, n = dims.reduce((a, d) => a * d, 1);
  const bytes = n * dt.array.BYTES_PER_ELEMENT;
  if (b.length - off < bytes) throw new Error(`${file}: ${b.length - off} bytes of data for ${n} elements`);
  // a copy: the file's data may sit at an offset no typed array of 8-byte elements can view
  const data = new dt.array(b.buffer.slice(b.byteOffset + off, b.byteOffset + off + bytes));
  return { type: dt.type, dims, data };
}

function writeNpy(file, type, dims, data) {
  const dt = DTYPES.find((d) => d.type === type);
  if (!dt) throw new Error(`${file}: cannot write an output of type ${type}`);
  let header = `{'descr': '${dt.descr}', 'fortran_order': False, 'shape': (${dims.join(", ")}${dims.length === 1 ? "," : ""}), }`;
  while ((10 + header.length + 1) % 64) header += " ";
  header += "\n";
  const h = Buffer.alloc(10);
  h.write("\x93NUMPY", 0, "latin1");
  h[6] = 1; h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([h, Buffer.from(header, "latin1"),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const args = process.argv.slice(2);
  const timed = args.indexOf("--time");
  const rounds = timed >= 0 ? args[timed + 1] : undefined;
  const files = timed >= 0 ? args.slice(1, timed) : args.slice(1, -1);
  const yfile = timed >= 0 ? undefined : args[args.length - 1];
  if (args.length < 3 || files.length === 0)
    throw new Error("usage: ort_run.js MODEL.onnx X.npy [X2.npy ...] (Y.npy | --time ROUNDS)");
  const threads = Number(process.env.HB_ORT_THREADS || 1);
  const session = await ort.InferenceSession.create(args[0], {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const feeds = {};
  files.forEach((f, i) => {
    const eq = f.indexOf("=");
    const name = eq > 0 ? f.slice(0, eq) : session.inputNames[i];
    if (name === undefined || !session.inputNames.includes(name))
      throw new Error(`${f}: the model's inputs are ${session.inputNames.join(", ")}`);
    const x = readNpy(eq > 0 ? f.slice(eq + 1) : f);
    feeds[name] = new ort.Tensor(x.type, x.data, x.dims);
  });
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) throw new Error(`no value for graph input ${missing.join(", ")}`);
  if (timed < 0) {
    const out = (await session.run(feeds))[session.outputNames[0]];
    writeNpy(yfile, out.type, out.dims, out.data);
    return;
  }
  for (let i = 0; i < 3; i++) await session.run(feeds); // warm
  const once = process.hrtime.bigint();
  await session.run(feeds);
  const oneUs = Number(process.hrtime.bigint() - once) / 1e3;
  const calls = Math.max(1, Math.floor(20000 / Math.max(oneUs, 0.01)));
  const times = [];
  for (let r = 0; r < Number(rounds || 7); r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e3 / calls);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ us: times[times.length >> 1], calls, threads }));
}

main().catch((e) => { console.error(`ort_run: ${e.message}`); process.exit(1); });
