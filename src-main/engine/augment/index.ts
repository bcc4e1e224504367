/** Multi-crop view generation and its configuration. */
export { defaultViewsConfig, type JitterConfig, type ViewsConfig } from './config.ts';
export { makeViews, type Views } from './views.ts';
