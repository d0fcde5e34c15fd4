// Runs an ONNX model with ONNX Runtime (npm's onnxruntime-node, CPU) on .npy float32 inputs and
// writes the first output as .npy — the outside check of hybrid's ONNX export, and ONNX
// Runtime's side of the benchmark. Never used by the library.
//
//   node tools/ort_run.js MODEL.onnx X.npy Y.npy          one run, output written
//   node tools/ort_run.js MODEL.onnx X.npy --time ROUNDS  median µs per run, as JSON
//
// onnxruntime-node is looked for under $HB_ORT_DIR (default .cache/ort, where ./dev installs
// it with `npm install --ignore-scripts onnxruntime-node@1.30.0`).
const fs = require("fs");
const path = require("path");

const ortDir = process.env.HB_ORT_DIR || path.join(__dirname, "..", ".cache", "ort");
const ort = require(path.join(ortDir, "node_modules", "onnxruntime-node"));

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${file}: not a .npy file`);
  const hlen = b[6] === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = b[6] === 1 ? 10 : 12;
  const header = b.toString("latin1", start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new Error(`${file}: only little-endian float32, C order`);
  const dims = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(",").map((s) => s.trim())
    .filter((s) => s.length).map(Number);
  const off = start + hlen;
  const data = new Float32Array(b.buffer.slice(b.byteOffset + off, b.byteOffset + b.length));
  return { dims, data };
}

function writeNpy(file, dims, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(", ")}${dims.length === 1 ? "," : ""}), }`;
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
  const [model, xfile, third, rounds] = process.argv.slice(2);
  const threads = Number(process.env.HB_ORT_THREADS || 1);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const x = readNpy(xfile);
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", x.data, x.dims) };
  if (third !== "--time") {
    const out = (await session.run(feeds))[session.outputNames[0]];
    writeNpy(third, out.dims, out.data);
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
