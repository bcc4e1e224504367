import { mount } from 'svelte';

import App from './App.svelte';
import { studio } from './lib/app.ts';

// The token came in the address once and now lives in a cookie: keep it out of history.
if (new URLSearchParams(location.search).has('token')) {
  history.replaceState(null, '', location.pathname + location.hash);
}

void studio.load();
mount(App, { target: document.getElementById('app')! });
