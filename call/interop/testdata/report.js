// What both test pages share: report(event, data) posts one thing that
// happened to the test (POST /report), and page errors are reported too.
'use strict';
const report = (event, data) =>
  fetch('/report', {method: 'POST', body: JSON.stringify(Object.assign({event}, data || {}))});
window.addEventListener('error', (e) => report('error', {message: String(e.message)}));
