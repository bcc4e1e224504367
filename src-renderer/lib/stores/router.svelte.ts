/**
 * Hash routes (`#/runs/3`): they work the same from a file, the app's own
 * protocol and the server, and need no server-side fallback.
 */
export type Route =
  | { view: 'datasets' }
  | { view: 'dataset'; id: number }
  | { view: 'new-run'; versionId: number | null }
  | { view: 'runs' }
  | { view: 'run'; id: number }
  | { view: 'compare'; ids: number[] }
  | { view: 'explore' }
  | { view: 'export' }
  | { view: 'settings' };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  const params = new URLSearchParams(query);
  const id = Number(parts[1]);
  switch (parts[0]) {
    case 'datasets':
      return Number.isInteger(id) && id > 0 ? { view: 'dataset', id } : { view: 'datasets' };
    case 'runs':
      if (parts[1] === 'new') {
        const v = Number(params.get('version'));
        return { view: 'new-run', versionId: Number.isInteger(v) && v > 0 ? v : null };
      }
      return Number.isInteger(id) && id > 0 ? { view: 'run', id } : { view: 'runs' };
    case 'compare':
      return {
        view: 'compare',
        ids: (params.get('ids') ?? '')
          .split(',')
          .map(Number)
          .filter((n) => Number.isInteger(n) && n > 0),
      };
    case 'explore':
      return { view: 'explore' };
    case 'export':
      return { view: 'export' };
    case 'settings':
      return { view: 'settings' };
    default:
      return { view: 'datasets' };
  }
}

export class Router {
  route = $state<Route>(parseRoute(location.hash));

  constructor() {
    window.addEventListener('hashchange', () => {
      this.route = parseRoute(location.hash);
    });
  }

  go(hash: string): void {
    location.hash = hash;
  }
}
