// The reset page: the e-mailed link carries its token in the fragment
// (`/reset-password#otr_...`), which browsers never send to a server, so no
// access log or proxy sees it. Move it into the form, and out of the address bar.
const token = decodeURIComponent(window.location.hash.slice(1));
if (token) {
  document.getElementById('reset-token').value = token;
  history.replaceState(null, '', window.location.pathname);
}
