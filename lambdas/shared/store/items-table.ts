/**
 * The items table holds the catalog and the trained model, one partition key (`pk`) with a prefix per kind:
 *
 * | pk                          | what                                                        | expires        |
 * |-----------------------------|-------------------------------------------------------------|----------------|
 * | `item#<itemId>`             | a catalog item (JSON in `item`)                             | never          |
 * | `catalog#unavailable`       | string set `ids`: items that must not be recommended         | never          |
 * |                             | (unavailable, or deleted since the current model was trained)|                |
 * | `model#current`             | pointer to the version serving reads, with its manifest:    | never          |
 * |                             | algorithm, stats, global and trending popularity            |                |
 * | `nbr#<version>#<itemId>`    | the item's top-K neighbours                                 | TTL            |
 * | `pop#<version>#<category>`  | the category's most popular items                           | TTL            |
 *
 * A version's rows are all written before the pointer moves to it (one conditional PutItem), so serving never
 * sees half a model; rows of old versions expire through the table's TTL.
 */
export const ITEM_KEYS = {
  catalogItem: (itemId: string) => `item#${itemId}`,
  catalogItemPrefix: 'item#',
  unavailable: 'catalog#unavailable',
  modelPointer: 'model#current',
  neighbours: (version: string, itemId: string) => `nbr#${version}#${itemId}`,
  popular: (version: string, category: string) => `pop#${version}#${category}`,
} as const;
