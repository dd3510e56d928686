import { Button } from '../../ui';
import type { Paged } from './use-load';

/** "Load more" under a paged list, while the API has another page. */
export function LoadMore({ list }: { list: Paged<unknown> }) {
  if (!list.more) return null;
  const more = list.more;
  return (
    <Button busy={list.loadingMore} onClick={() => void more()}>
      Load more
    </Button>
  );
}
