// Container health check for distroless images (no shell, no curl): GET /live on the health port.
// Exit 0 when the process answers 200 within the timeout, 1 otherwise.
const port = Number(process.env.CF_HEALTH__PORT ?? 9100);
const controller = new AbortController();
const timer = setTimeout(() => controller.abort(), 3000);
try {
  const res = await fetch(`http://127.0.0.1:${port}/live`, { signal: controller.signal });
  process.exitCode = res.status === 200 ? 0 : 1;
} catch {
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
}
