// The preview plays a live alias's HLS through the gateway with hls.js,
// which is loaded only when a preview starts. The playlist URL carries the
// credential (a host JWT, or the passcode); the gateway answers it with a
// session cookie that the segment requests then carry.

let current = null;

// startPreview plays url in video and reports through onStatus(text,
// failed).
export async function startPreview(video, url, onStatus) {
  stopPreview(video);
  onStatus('Loading the stream…', false);
  video.hidden = false;
  const { default: Hls } = await import('./hls.min.mjs');
  if (Hls.isSupported()) {
    const hls = new Hls({
      // The transmuxer's worker is one of the console's files, so the
      // page's CSP needs no blob: workers.
      workerPath: new URL('hls.worker.js', import.meta.url).href,
      liveDurationInfinity: true,
    });
    current = hls;
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      const code = data.response && data.response.code;
      const why = code ? `the gateway answered ${code}` : data.details;
      onStatus(`The preview stopped: ${why}.`, true);
      stopPreview(video);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      video.play().catch(() => onStatus('The stream is ready: press play.', false));
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    video.play().catch(() => onStatus('The stream is ready: press play.', false));
  } else {
    onStatus('This browser cannot play HLS.', true);
    video.hidden = true;
    return;
  }
  video.addEventListener('playing', () => onStatus('Playing.', false), { once: true });
}

export function stopPreview(video) {
  if (current) {
    current.destroy();
    current = null;
  }
  video.pause();
  video.removeAttribute('src');
  video.load();
}
