// Compare view script (loaded with the CSP nonce): export buttons post to the extension host, focused
// chart bars announce their numbers, arrow keys move between bars. The markup comes from compareHtml.ts.
(function () {
  'use strict';
  // acquireVsCodeApi exists only inside a VS Code webview; tests stub it.
  const vscode = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
  const status = document.getElementById('status');

  function announce(text) {
    if (status) status.textContent = text;
  }

  for (const button of document.querySelectorAll('button[data-export]')) {
    button.addEventListener('click', function () {
      const format = button.getAttribute('data-export');
      announce('Exporting ' + format.toUpperCase() + '…');
      if (vscode) vscode.postMessage({ type: 'export', format: format });
    });
  }

  const bars = Array.prototype.slice.call(document.querySelectorAll('#layer-chart-svg .bar'));
  bars.forEach(function (bar, index) {
    const show = function () {
      announce(bar.getAttribute('data-detail') || '');
    };
    bar.addEventListener('focus', show);
    bar.addEventListener('mouseenter', show);
    bar.addEventListener('keydown', function (event) {
      const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
      if (step === 0) return;
      event.preventDefault();
      const next = bars[Math.max(0, Math.min(bars.length - 1, index + step))];
      if (next) next.focus();
    });
  });

  window.addEventListener('message', function (event) {
    const message = event.data;
    if (!message || typeof message.type !== 'string') return;
    if (message.type === 'exported') announce('Saved ' + message.format.toUpperCase() + ' report to ' + message.location);
    else if (message.type === 'exportCancelled') announce('Export cancelled');
    else if (message.type === 'exportFailed') announce('Export failed: ' + message.message);
  });

  if (vscode) vscode.postMessage({ type: 'ready' });
})();
