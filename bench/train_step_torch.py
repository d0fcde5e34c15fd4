"""PyTorch's side of bench/train_step.c: the same training step (seed MLP 20-256-10,
cross-entropy, batch 64, SGD with momentum 0.9 at lr 0.05, or Adam at 1e-3), eager, timed the
same way (median over rounds of 200 steps cycling through 8 batches). For context in
bench/RESULTS.md; never used by the library or its tests.
Run: /usr/bin/python3 bench/train_step_torch.py [rounds] [batch] [threads]"""
import sys
import time

import torch

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
torch.manual_seed(5)
xs = [torch.rand(batch, 20) for _ in range(8)]
ys = [torch.randint(0, 10, (batch,)) for _ in range(8)]
print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, batch {batch}: "
      f"median us per step over {rounds} rounds of 200 steps")
for name in ("sgd", "adam"):
    net = torch.nn.Sequential(torch.nn.Linear(20, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = (torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9) if name == "sgd"
           else torch.optim.Adam(net.parameters(), lr=1e-3))
    loss_fn = torch.nn.CrossEntropyLoss()

    def steps(n):
        t0 = time.perf_counter()
        for i in range(n):
            opt.zero_grad()
            loss = loss_fn(net(xs[i % 8]), ys[i % 8])
            loss.backward()
            opt.step()
        return (time.perf_counter() - t0) / n * 1e6

    steps(200)  # warm up
    times = sorted(steps(200) for _ in range(rounds))
    print(f"{name:6s} eager {times[rounds // 2]:8.1f}")
