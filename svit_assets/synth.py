"""Synthetic Visual Genome + COCO annotation files at full scale (`svit synth`).

The real VG files are 2.3 GB of JSON that cannot ship with the project, yet the ingest path has to be
measured at that size. :func:`write_synthetic` writes files in the official formats (key names, key order,
nesting) with record sizes and per-image counts close to the real ones, plus the format quirks a parser
must survive (``name`` vs ``names``, mixed-case predicates, trailing spaces, boxes overhanging the image),
at low rates.

Every image is drawn from its own RNG seeded by ``(seed, image_id)`` and every id is derived from the
image id (``image_id * 100 + k``), so the output is byte-identical for a seed, image ranges can be written
by parallel workers, and each worker streams its records holding one image at a time. Records are serialised with orjson (compact inside a record) and joined with
``", "`` like the official files.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from math import cos, sin
from multiprocessing import get_context
from pathlib import Path
from typing import Any, BinaryIO

import orjson

VG_FILES = ("image_data", "objects", "attributes", "relationships", "region_descriptions")
COCO_FILES = ("captions_train2017", "instances_train2017")

# The 80 COCO object categories: (id, name, supercategory), with the official ids and their gaps.
COCO_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"), (4, "motorcycle", "vehicle"),
    (5, "airplane", "vehicle"), (6, "bus", "vehicle"), (7, "train", "vehicle"), (8, "truck", "vehicle"),
    (9, "boat", "vehicle"), (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"),
    (20, "sheep", "animal"), (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"),
    (36, "snowboard", "sports"), (37, "sports ball", "sports"), (38, "kite", "sports"),
    (39, "baseball bat", "sports"), (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
    (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"), (49, "knife", "kitchen"),
    (50, "spoon", "kitchen"), (51, "bowl", "kitchen"), (52, "banana", "food"), (53, "apple", "food"),
    (54, "sandwich", "food"), (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
    (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
    (81, "sink", "appliance"), (82, "refrigerator", "appliance"), (84, "book", "indoor"),
    (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
)
COCO_CATEGORY_IDS = {name: cat_id for cat_id, name, _ in COCO_CATEGORIES}

# The licence table every COCO annotation file carries (Flickr licences of the images).
COCO_LICENSES: tuple[tuple[int, str, str], ...] = (
    (1, "Attribution-NonCommercial-ShareAlike License", "http://creativecommons.org/licenses/by-nc-sa/2.0/"),
    (2, "Attribution-NonCommercial License", "http://creativecommons.org/licenses/by-nc/2.0/"),
    (3, "Attribution-NonCommercial-NoDerivs License", "http://creativecommons.org/licenses/by-nc-nd/2.0/"),
    (4, "Attribution License", "http://creativecommons.org/licenses/by/2.0/"),
    (5, "Attribution-ShareAlike License", "http://creativecommons.org/licenses/by-sa/2.0/"),
    (6, "Attribution-NoDerivs License", "http://creativecommons.org/licenses/by-nd/2.0/"),
    (7, "No known copyright restrictions", "http://flickr.com/commons/usage/"),
    (8, "United States Government Work", "http://www.usa.gov/copyright.shtml"),
)

VG_URL = "https://cs.stanford.edu/people/rak248/VG_100K/{}.jpg"
COCO_URL = "http://images.cocodataset.org/train2017/{:012d}.jpg"


def coco_header(description: str, *, with_categories: bool) -> dict:
    """The non-annotation parts of a COCO file (info, licenses and, for instances, categories)."""
    header: dict[str, Any] = {
        "info": {
            "description": description, "url": "http://cocodataset.org", "version": "1.0", "year": 2017,
            "contributor": "COCO Consortium", "date_created": "2017/09/01",
        },
        "licenses": [{"url": url, "id": lic_id, "name": name} for lic_id, name, url in COCO_LICENSES],
    }
    if with_categories:
        header["categories"] = [
            {"supercategory": sup, "id": cat_id, "name": name}
            for cat_id, name, sup in COCO_CATEGORIES
        ]
    return header


def coco_image(coco_id: int, width: int, height: int, license_id: int, captured: str, flickr_url: str) -> dict:
    """One entry of a COCO ``images`` list, keys in the official order."""
    return {
        "license": license_id, "file_name": f"{coco_id:012d}.jpg", "coco_url": COCO_URL.format(coco_id),
        "height": height, "width": width, "date_captured": captured, "flickr_url": flickr_url, "id": coco_id,
    }


def uncompressed_rle(tops: list[int], bottoms: list[int], x0: int, width: int, height: int) -> list[int]:
    """Column-major run lengths (COCO's uncompressed RLE) of a mask that fills rows [top, bottom) of each
    column from x0 on: cheap to build at scale, and as irregular as a crowd outline needs to be."""
    counts = [x0 * height + tops[0]]
    for col, (top, bottom) in enumerate(zip(tops, bottoms, strict=True)):
        counts.append(bottom - top)
        if col + 1 < len(tops):
            counts.append(height - bottom + tops[col + 1])
    counts.append(height - bottoms[-1] + (width - x0 - len(tops)) * height)
    return counts


# ---------------------------------------------------------------------------------------------------------
# Vocabulary: "name | synset | COCO category | size class" per line; size L/M/S sets the box scale.

_PEOPLE = """
man | man.n.01 | person | M
woman | woman.n.01 | person | M
person | person.n.01 | person | M
boy | male_child.n.01 | person | M
girl | girl.n.01 | person | M
child | child.n.01 | person | M
people | people.n.01 | | L
shirt | shirt.n.01 | | S
pants | trouser.n.01 | | S
jeans | jean.n.01 | | S
jacket | jacket.n.01 | | S
coat | coat.n.01 | | S
sweater | sweater.n.01 | | S
shorts | short_pants.n.01 | | S
dress | dress.n.01 | | S
skirt | skirt.n.02 | | S
hat | hat.n.01 | | S
cap | cap.n.01 | | S
helmet | helmet.n.02 | | S
hair | hair.n.01 | | S
head | head.n.01 | | S
face | face.n.01 | | S
hand | hand.n.01 | | S
arm | arm.n.01 | | S
leg | leg.n.01 | | S
ear | ear.n.01 | | S
eye | eye.n.01 | | S
nose | nose.n.01 | | S
mouth | mouth.n.01 | | S
beard | beard.n.01 | | S
shoe | shoe.n.01 | | S
shoes | shoe.n.01 | | S
sneakers | gym_shoe.n.01 | | S
boots | boot.n.01 | | S
glasses | spectacles.n.01 | | S
sunglasses | sunglasses.n.01 | | S
watch | watch.n.01 | | S
backpack | backpack.n.01 | backpack | S
handbag | bag.n.04 | handbag | S
purse | bag.n.04 | handbag | S
tie | necktie.n.01 | tie | S
umbrella | umbrella.n.01 | umbrella | M
"""

_OUTDOOR = """
sky | sky.n.01 | | L
cloud | cloud.n.02 | | M
clouds | cloud.n.02 | | L
tree | tree.n.01 | | M
trees | tree.n.01 | | L
building | building.n.01 | | L
grass | grass.n.01 | | L
ground | land.n.04 | | L
shadow | shadow.n.02 | | M
bush | bush.n.01 | | M
leaves | leaf.n.01 | | M
branch | branch.n.02 | | S
fence | fence.n.01 | | M
rock | rock.n.01 | | S
pole | pole.n.01 | | S
sign | sign.n.02 | | S
light | light.n.02 | | S
bird | bird.n.01 | bird | S
dog | dog.n.01 | dog | M
"""

_INDOOR = """
wall | wall.n.01 | | L
floor | floor.n.01 | | L
ceiling | ceiling.n.01 | | L
window | window.n.01 | | M
door | door.n.01 | | M
light | light.n.02 | | S
outlet | wall_socket.n.01 | | S
picture | picture.n.01 | | S
frame | frame.n.10 | | S
shelf | shelf.n.01 | | M
curtain | curtain.n.01 | | M
handle | handle.n.01 | | S
"""

_THEMES: dict[str, tuple[str, float, str, str]] = {
    # theme: (place phrase, share of people objects, generic group, vocabulary)
    "street": ("on a city street", 0.3, _OUTDOOR, """
street | street.n.01 | | L
road | road.n.01 | | L
sidewalk | sidewalk.n.01 | | L
car | car.n.01 | car | M
cars | car.n.01 | car | M
bus | bus.n.01 | bus | M
truck | truck.n.01 | truck | M
taxi | cab.n.03 | car | M
van | van.n.05 | | M
motorcycle | motorcycle.n.01 | motorcycle | M
bicycle | bicycle.n.01 | bicycle | M
bike | bicycle.n.01 | bicycle | M
traffic light | traffic_light.n.01 | traffic light | S
street sign | street_sign.n.01 | | S
stop sign | street_sign.n.01 | stop sign | S
fire hydrant | fireplug.n.01 | fire hydrant | S
parking meter | parking_meter.n.01 | parking meter | S
wheel | wheel.n.01 | | S
tire | tire.n.01 | | S
windshield | windshield.n.01 | | S
headlight | headlight.n.01 | | S
license plate | license_plate.n.01 | | S
crosswalk | crosswalk.n.01 | | M
curb | curb.n.01 | | M
lamp post | lamppost.n.01 | | S
street light | streetlight.n.01 | | S
bench | bench.n.01 | bench | M
awning | awning.n.01 | | M
window | window.n.01 | | S
door | door.n.01 | | S
balcony | balcony.n.01 | | S
"""),
    "kitchen": ("in a kitchen", 0.15, _INDOOR, """
counter | counter.n.01 | | L
cabinet | cabinet.n.01 | | M
cabinets | cabinet.n.01 | | M
refrigerator | electric_refrigerator.n.01 | refrigerator | M
fridge | electric_refrigerator.n.01 | refrigerator | M
stove | stove.n.02 | oven | M
oven | oven.n.01 | oven | M
microwave | microwave.n.02 | microwave | M
sink | sink.n.01 | sink | M
faucet | faucet.n.01 | | S
pot | pot.n.01 | | S
pan | pan.n.01 | | S
bowl | bowl.n.01 | bowl | S
plate | plate.n.04 | | S
cup | cup.n.01 | cup | S
mug | mug.n.04 | cup | S
knife | knife.n.01 | knife | S
fork | fork.n.01 | fork | S
spoon | spoon.n.01 | spoon | S
cutting board | chopping_board.n.01 | | S
tomato | tomato.n.01 | | S
carrot | carrot.n.03 | carrot | S
onion | onion.n.03 | | S
broccoli | broccoli.n.02 | broccoli | S
bottle | bottle.n.01 | bottle | S
jar | jar.n.01 | | S
towel | towel.n.01 | | S
drawer | drawer.n.01 | | S
tile | tile.n.01 | | S
toaster | toaster.n.02 | toaster | S
kettle | kettle.n.01 | | S
apron | apron.n.01 | | S
"""),
    "beach": ("on the beach", 0.35, _OUTDOOR, """
beach | beach.n.01 | | L
sand | sand.n.01 | | L
ocean | ocean.n.01 | | L
water | body_of_water.n.01 | | L
wave | wave.n.01 | | M
waves | wave.n.01 | | M
surfboard | surfboard.n.01 | surfboard | M
surfer | surfer.n.01 | person | M
towel | towel.n.01 | | S
boat | boat.n.01 | boat | M
kite | kite.n.03 | kite | S
seagull | gull.n.01 | bird | S
shore | shore.n.01 | | L
swimsuit | swimsuit.n.01 | | S
horizon | horizon.n.01 | | M
palm tree | palm.n.03 | | M
chair | chair.n.01 | chair | M
footprints | footprint.n.01 | | S
cooler | cooler.n.01 | | S
"""),
    "living room": ("in a living room", 0.15, _INDOOR, """
couch | sofa.n.01 | couch | M
sofa | sofa.n.01 | couch | M
pillow | pillow.n.01 | | S
cushion | cushion.n.03 | | S
lamp | lamp.n.02 | | S
table | table.n.02 | dining table | M
coffee table | cocktail_table.n.01 | | M
television | television_receiver.n.01 | tv | M
tv | television_receiver.n.01 | tv | M
remote | remote_control.n.01 | remote | S
book | book.n.01 | book | S
books | book.n.01 | book | S
bookshelf | bookcase.n.01 | | M
rug | rug.n.01 | | M
carpet | carpet.n.01 | | L
painting | painting.n.01 | | S
clock | clock.n.01 | clock | S
vase | vase.n.01 | vase | S
flowers | flower.n.01 | | S
plant | plant.n.02 | potted plant | S
cat | cat.n.01 | cat | M
chair | chair.n.01 | chair | M
fireplace | fireplace.n.01 | | M
blanket | blanket.n.01 | | M
"""),
    "sports field": ("on the field", 0.45, _OUTDOOR, """
field | field.n.01 | | L
player | player.n.01 | person | M
batter | batter.n.01 | person | M
catcher | catcher.n.01 | person | M
umpire | umpire.n.01 | person | M
bat | bat.n.05 | baseball bat | S
glove | baseball_glove.n.01 | baseball glove | S
mitt | baseball_glove.n.01 | baseball glove | S
ball | ball.n.01 | sports ball | S
uniform | uniform.n.01 | | M
dirt | dirt.n.02 | | L
base | base.n.03 | | S
home plate | home_plate.n.01 | | S
net | net.n.05 | | M
racket | racket.n.04 | tennis racket | S
court | court.n.01 | | L
crowd | crowd.n.01 | | L
bleachers | bleachers.n.01 | | L
line | line.n.01 | | S
scoreboard | scoreboard.n.01 | | M
frisbee | frisbee.n.01 | frisbee | S
skateboard | skateboard.n.01 | skateboard | S
ramp | ramp.n.01 | | M
"""),
    "animals": ("in a grassy enclosure", 0.1, _OUTDOOR, """
giraffe | giraffe.n.01 | giraffe | M
giraffes | giraffe.n.01 | giraffe | M
zebra | zebra.n.01 | zebra | M
zebras | zebra.n.01 | zebra | M
elephant | elephant.n.01 | elephant | M
horse | horse.n.01 | horse | M
cow | cow.n.01 | cow | M
cows | cow.n.01 | cow | M
sheep | sheep.n.01 | sheep | M
bear | bear.n.01 | bear | M
mane | mane.n.01 | | S
tail | tail.n.01 | | S
spots | spot.n.01 | | S
stripes | stripe.n.01 | | S
hay | hay.n.01 | | S
saddle | saddle.n.01 | | S
bridle | bridle.n.01 | | S
reins | rein.n.01 | | S
tusk | tusk.n.01 | | S
trunk | proboscis.n.02 | | S
hoof | hoof.n.01 | | S
enclosure | enclosure.n.01 | | L
log | log.n.01 | | M
hill | hill.n.01 | | L
mountain | mountain.n.01 | | L
dirt | dirt.n.02 | | L
"""),
    "bathroom": ("in a bathroom", 0.05, _INDOOR, """
toilet | toilet.n.02 | toilet | M
sink | sink.n.01 | sink | M
mirror | mirror.n.01 | | M
bathtub | bathtub.n.01 | | M
tub | bathtub.n.01 | | M
shower | shower.n.01 | | M
shower curtain | shower_curtain.n.01 | | M
towel | towel.n.01 | | S
tile | tile.n.01 | | S
toilet paper | toilet_tissue.n.01 | | S
soap | soap.n.01 | | S
toothbrush | toothbrush.n.01 | toothbrush | S
faucet | faucet.n.01 | | S
cabinet | cabinet.n.01 | | M
counter | counter.n.01 | | M
lid | lid.n.02 | | S
drain | drain.n.03 | | S
rug | rug.n.01 | | S
hair dryer | hand_blower.n.01 | hair drier | S
bottle | bottle.n.01 | bottle | S
"""),
    "station": ("at a train station", 0.3, _OUTDOOR, """
train | train.n.01 | train | L
tracks | track.n.01 | | L
platform | platform.n.01 | | L
station | station.n.01 | | L
engine | locomotive.n.01 | train | M
train car | railcar.n.01 | train | M
window | window.n.01 | | S
door | door.n.01 | | S
roof | roof.n.01 | | M
clock | clock.n.01 | clock | S
bench | bench.n.01 | bench | M
suitcase | bag.n.06 | suitcase | S
gravel | gravel.n.01 | | M
wires | wire.n.02 | | S
"""),
    "bedroom": ("in a bedroom", 0.1, _INDOOR, """
bed | bed.n.01 | bed | L
pillow | pillow.n.01 | | S
pillows | pillow.n.01 | | S
blanket | blanket.n.01 | | M
sheet | sheet.n.03 | | M
headboard | headboard.n.01 | | M
nightstand | nightstand.n.01 | | M
lamp | lamp.n.02 | | S
dresser | chest_of_drawers.n.01 | | M
teddy bear | teddy.n.01 | teddy bear | S
closet | wardrobe.n.01 | | M
mirror | mirror.n.01 | | M
book | book.n.01 | book | S
alarm clock | alarm_clock.n.01 | clock | S
laptop | laptop.n.01 | laptop | S
cat | cat.n.01 | cat | M
"""),
    "market": ("at an outdoor market", 0.35, _OUTDOOR, """
table | table.n.02 | dining table | M
fruit | fruit.n.01 | | S
banana | banana.n.02 | banana | S
bananas | banana.n.02 | banana | S
apple | apple.n.01 | apple | S
apples | apple.n.01 | apple | S
orange | orange.n.01 | orange | S
oranges | orange.n.01 | orange | S
grapes | grape.n.01 | | S
crate | crate.n.01 | | M
basket | basket.n.01 | | M
stall | booth.n.02 | | L
awning | awning.n.01 | | M
vendor | vendor.n.01 | person | M
bag | bag.n.01 | | S
scale | scale.n.07 | | S
vegetables | vegetable.n.01 | | S
tent | tent.n.01 | | L
"""),
    "dining": ("on a table", 0.2, _INDOOR, """
table | table.n.02 | dining table | M
pizza | pizza.n.01 | pizza | M
sandwich | sandwich.n.01 | sandwich | S
donut | doughnut.n.02 | donut | S
cake | cake.n.03 | cake | S
hot dog | hotdog.n.02 | hot dog | S
cheese | cheese.n.01 | | S
pepperoni | pepperoni.n.01 | | S
crust | crust.n.02 | | S
napkin | napkin.n.01 | | S
plate | plate.n.04 | | S
fork | fork.n.01 | fork | S
knife | knife.n.01 | knife | S
glass | glass.n.02 | cup | S
wine glass | wineglass.n.01 | wine glass | S
bottle | bottle.n.01 | bottle | S
cup | cup.n.01 | cup | S
bowl | bowl.n.01 | bowl | S
tray | tray.n.01 | | S
candle | candle.n.01 | | S
chair | chair.n.01 | chair | M
"""),
    "office": ("on an office desk", 0.1, _INDOOR, """
desk | desk.n.01 | | M
computer | computer.n.01 | | M
monitor | monitor.n.04 | tv | M
keyboard | computer_keyboard.n.01 | keyboard | S
mouse | mouse.n.04 | mouse | S
laptop | laptop.n.01 | laptop | S
phone | telephone.n.01 | cell phone | S
cell phone | cellular_telephone.n.01 | cell phone | S
paper | paper.n.01 | | S
papers | paper.n.01 | | S
pen | pen.n.01 | | S
chair | chair.n.01 | chair | M
lamp | lamp.n.02 | | S
mug | mug.n.04 | cup | S
book | book.n.01 | book | S
notebook | notebook.n.01 | | S
speaker | loudspeaker.n.01 | | S
scissors | scissors.n.01 | scissors | S
cord | cord.n.01 | | S
"""),
    "snow": ("on a snowy slope", 0.4, _OUTDOOR, """
snow | snow.n.02 | | L
mountain | mountain.n.01 | | L
slope | slope.n.01 | | L
skier | skier.n.01 | person | M
skis | ski.n.01 | skis | S
snowboard | snowboard.n.01 | snowboard | S
snowboarder | snowboarder.n.01 | person | M
ski pole | ski_pole.n.01 | | S
goggles | goggles.n.01 | | S
gloves | glove.n.02 | | S
pine tree | pine.n.01 | | M
ski lift | ski_tow.n.01 | | M
tracks | track.n.02 | | S
flag | flag.n.01 | | S
"""),
}

_ATTRIBUTES = (
    "white", "black", "blue", "green", "red", "brown", "yellow", "gray", "orange", "pink", "purple", "silver",
    "tan", "beige", "gold", "dark", "light", "light blue", "dark green", "dark blue", "wooden", "metal",
    "glass", "plastic", "brick", "concrete", "leather", "stone", "ceramic", "paper", "cloth", "wicker",
    "steel", "made of wood", "large", "small", "tall", "short", "long", "round", "square", "striped",
    "spotted", "plaid", "checkered", "patterned", "open", "closed", "parked", "standing", "sitting",
    "walking", "running", "smiling", "lit", "on", "off", "empty", "full", "wet", "dry", "clear", "cloudy",
    "sunny", "old", "new", "dirty", "clean", "shiny", "bright", "colorful", "cooked", "sliced", "fresh",
    "ripe", "bare", "leafy", "grassy", "sandy", "snowy", "folded", "stacked", "hanging", "young", "little",
    "big", "thin", "thick", "curved", "flat", "framed", "painted", "has leaves",
)

# (predicate as written in VG, synsets, weight): mixed case and near-duplicates on purpose.
_PREDICATES = (
    ("ON", ["along.r.01"], 30), ("on", ["along.r.01"], 6), ("has", ["have.v.01"], 11), ("IN", ["in.r.01"], 8),
    ("in", ["in.r.01"], 3), ("on top of", ["along.r.01"], 6), ("next to", ["next.r.01"], 4),
    ("with", [], 3), ("under", ["under.r.01"], 2), ("near", ["near.r.01"], 2), ("WEARING", ["wear.v.01"], 3),
    ("wearing", ["wear.v.01"], 2), ("wears", ["wear.v.01"], 1), ("OF", [], 2), ("of", [], 2),
    ("behind", ["behind.r.01"], 1), ("beside", ["beside.r.01"], 1), ("in front of", [], 1),
    ("holding", ["have.v.01"], 2), ("holds", ["have.v.01"], 1), ("parked on", ["park.v.01"], 1),
    ("sitting on", ["sit.v.01"], 1), ("standing on", ["stand.v.01"], 1), ("walking on", ["walk.v.01"], 1),
    ("riding", ["ride.v.01"], 1), ("hanging on", ["hang.v.01"], 1), ("above", ["above.r.01"], 1),
    ("below", ["below.r.01"], 1), ("by", [], 1), ("against", [], 1), ("looking at", ["look.v.01"], 1),
    ("carrying", ["carry.v.01"], 1), ("covering", ["cover.v.01"], 1), ("eating", ["eat.v.01"], 1),
    ("are on", ["along.r.01"], 1), ("has a", ["have.v.01"], 1), ("made of", ["make.v.01"], 1),
)
_PREDICATE_TABLE = tuple((p, s) for p, s, w in _PREDICATES for _ in range(w))
_PHRASE_VERBS = (
    "on", "on top of", "next to", "in front of", "behind", "near", "beside", "under", "in", "with",
    "sitting on", "standing on", "parked on", "hanging on", "leaning against", "holding", "wearing",
)
_IMAGE_SIZES = tuple(
    (w, h) for w, h, weight in (
        (800, 600, 30), (800, 533, 14), (500, 375, 12), (500, 333, 10), (640, 480, 8), (1024, 768, 4),
        (375, 500, 6), (600, 800, 6), (800, 450, 5), (333, 500, 5),
    ) for _ in range(weight)
)
# Box scale per size class: (min width, extra width, min height, extra height) as fractions of the image.
_SIZE_SCALE = {"L": (0.45, 0.55, 0.2, 0.4), "M": (0.12, 0.33, 0.15, 0.4), "S": (0.03, 0.12, 0.03, 0.12)}
# Unit-circle vertices for 6–19-point polygons, so a polygon costs no trigonometry per annotation.
_UNIT_POLYGONS = {n: tuple((cos(6.283185307179586 * i / n), sin(6.283185307179586 * i / n)) for i in range(n))
                  for n in range(6, 20)}


def _parse_vocab(text: str) -> list[tuple]:
    """Lines → (name, names list, synsets list, COCO category id or 0, box scale, name with article)."""
    entries = []
    for line in text.strip().splitlines():
        name, synset, category, size = (part.strip() for part in line.split("|"))
        plural = name == "people" or (name.endswith("s") and not name.endswith(("ss", "bus")))
        article = "some" if plural else "an" if name[0] in "aeiou" else "a"
        entries.append(
            (name, [name], [synset], COCO_CATEGORY_IDS.get(category, 0), _SIZE_SCALE[size], f"{article} {name}")
        )
    return entries


def _theme_pool(theme_vocab: str, people_share: float, generic: str) -> tuple:
    """A flat tuple to draw from uniformly: theme objects, generic scene objects and people in proportion."""
    theme, people, common = _parse_vocab(theme_vocab), _parse_vocab(_PEOPLE), _parse_vocab(generic)
    n_people = round(100 * people_share)
    return tuple(theme * 2 + common) + tuple(people[i % len(people)] for i in range(n_people))


_POOLS = tuple((place, _theme_pool(vocab, share, generic)) for place, share, generic, vocab in _THEMES.values())


def _count(r: random.Random, mean: float, spread: float, low: int, high: int) -> int:
    """Over-dispersed, Poisson-like per-image count, clamped to [low, high]."""
    return min(high, max(low, int(r.gauss(mean, spread) + 0.5)))


def polygon_in_box(rnd, x: float, y: float, w: float, h: float, width: int, height: int) -> tuple:
    """An irregular ellipse inside the box, clipped to the image: (COCO polygon segmentation, bbox, area).

    ``rnd`` is a ``random.Random().random``; the area is the polygon's (shoelace), as COCO stores it."""
    unit = _UNIT_POLYGONS[6 + int(rnd() * 14)]
    cx, cy, rx, ry = x + w / 2, y + h / 2, w / 2, h / 2
    xs, ys = [], []
    for ux, uy in unit:
        k = 0.8 + 0.2 * rnd()
        px, py = cx + rx * k * ux, cy + ry * k * uy
        xs.append(int((0.0 if px < 0 else width if px > width else px) * 100 + 0.5) / 100)
        ys.append(int((0.0 if py < 0 else height if py > height else py) * 100 + 0.5) / 100)
    area = 0.0
    for i in range(len(xs)):
        area += xs[i - 1] * ys[i] - xs[i] * ys[i - 1]
    x1, y1 = min(xs), min(ys)
    bbox = [x1, y1, round(max(xs) - x1, 2), round(max(ys) - y1, 2)]
    return [[c for pair in zip(xs, ys, strict=True) for c in pair]], bbox, round(abs(area) / 2, 4)


def _phrase(rnd, objs: list, place: str) -> str:
    """A VG-style region phrase composed from two of the image's objects."""
    a = objs[int(rnd() * len(objs))][0]
    b = objs[int(rnd() * len(objs))][0]
    attr = _ATTRIBUTES[int(rnd() * len(_ATTRIBUTES))]
    verb = _PHRASE_VERBS[int(rnd() * len(_PHRASE_VERBS))]
    kind = int(rnd() * 8)
    if kind == 0:
        return f"the {a[0]} is {attr}"
    if kind == 1:
        return f"{attr} {a[0]} {verb} the {b[0]}"
    if kind == 2:
        return f"{a[5]} {verb} {b[5]} {place}"
    if kind == 3:
        return f"the {attr} {a[0]} {place}"
    if kind == 4:
        return f"{a[5]} and {b[5]} {place}"
    if kind == 5:
        return f"{a[0]} {verb} {b[0]}"
    if kind == 6:
        return f"A {attr} {a[0]} {verb} the {b[0]}."
    return f"part of {a[5]} that is {attr}"


def _caption(rnd, objs: list, place: str) -> str:
    """A COCO-style sentence: one or two objects, a relation and the scene."""
    a = objs[int(rnd() * len(objs))][0]
    b = objs[int(rnd() * len(objs))][0]
    attr = _ATTRIBUTES[int(rnd() * len(_ATTRIBUTES))]
    verb = _PHRASE_VERBS[int(rnd() * len(_PHRASE_VERBS))]
    kind = int(rnd() * 4)
    if kind == 0:
        text = f"{a[5].capitalize()} {verb} {b[5]} {place}."
    elif kind == 1:
        text = f"A {attr} {a[0]} {verb} {b[5]} {place}."
    elif kind == 2:
        text = f"There is {a[5]} and {b[5]} {place}."
    else:
        text = f"{a[5].capitalize()} that is {attr}, seen {place} next to {b[5]}."
    return text + " " if rnd() < 0.03 else text


# Part files a worker writes for its image range: ", "-joined array elements, no brackets.
_PARTS = (*VG_FILES, "coco_images", "coco_captions", "coco_instances")
_COUNTERS = ("images", "coco_images", "objects", "attribute_objects", "attributes", "relationships", "regions",
             "captions", "instances", "crowd_instances")


def write_synthetic(out_dir: Path, n_images: int, seed: int = 0, workers: int | None = None) -> dict:
    """Write synthetic VG (``visual_genome/*.json``) and COCO (``coco/*_train2017.json``) files for
    ``n_images`` images into ``out_dir``; return the counts and the byte size of every file.

    Large runs are split into contiguous image ranges written by ``workers`` processes (default: one per
    CPU, up to 4, for 20,000 images or more) and then concatenated; the bytes do not depend on the split.
    Workers are spawned (safe under threads), so a calling script needs the usual ``__main__`` guard.
    """
    started = time.monotonic()
    out_dir = Path(out_dir)
    vg_dir, coco_dir, parts_dir = out_dir / "visual_genome", out_dir / "coco", out_dir / ".synth-parts"
    for folder in (vg_dir, coco_dir, parts_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if n_images >= 20_000 else 1
    step = -(-n_images // workers) if n_images else 1
    ranges = [(parts_dir / str(k), start, min(start + step, n_images + 1), seed)
              for k, start in enumerate(range(1, n_images + 1, step))]
    if len(ranges) > 1:
        with ProcessPoolExecutor(len(ranges), mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_write_range, *zip(*ranges, strict=True)))
    else:
        results = [_write_range(*job) for job in ranges]
    totals = {key: sum(result[key] for result in results) for key in _COUNTERS}
    part_dirs = [job[0] for job in ranges]

    for name in VG_FILES:
        with open(vg_dir / f"{name}.json", "wb") as out:
            out.write(b"[")
            _concat(out, [d / f"{name}.part" for d in part_dirs])
            out.write(b"]")
    for name, description in (("captions_train2017", "captions"), ("instances_train2017", "instances")):
        head = coco_header(f"SVIT synthetic {description} (COCO 2017 format)",
                           with_categories=description == "instances")
        with open(coco_dir / f"{name}.json", "wb") as out:
            out.write(json.dumps({"info": head["info"], "licenses": head["licenses"]})[:-1].encode())
            out.write(b', "images": [')
            _concat(out, [d / "coco_images.part" for d in part_dirs], delete=description == "instances")
            out.write(b'], "annotations": [')
            _concat(out, [d / f"coco_{description}.part" for d in part_dirs])
            out.write(b"]")
            if "categories" in head:
                out.write(b', "categories": ' + json.dumps(head["categories"]).encode())
            out.write(b"}")
    shutil.rmtree(parts_dir)

    sizes = {f"visual_genome/{n}.json": (vg_dir / f"{n}.json").stat().st_size for n in VG_FILES}
    sizes |= {f"coco/{n}.json": (coco_dir / f"{n}.json").stat().st_size for n in COCO_FILES}
    return {**totals, "bytes": sizes, "total_bytes": sum(sizes.values()), "workers": len(ranges),
            "seconds": round(time.monotonic() - started, 2)}


def _concat(out: BinaryIO, parts: list[Path], delete: bool = True) -> None:
    """Append the non-empty part files to ``out``, ", "-separated; delete them once copied so a full-scale
    run never needs twice its output size on disk."""
    first = True
    for part in parts:
        if part.stat().st_size:
            if not first:
                out.write(b", ")
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
            first = False
        if delete:
            part.unlink()


def _write_range(part_dir: Path, first_id: int, stop_id: int, seed: int) -> dict:
    """Write the part files of images [first_id, stop_id); one image in memory at a time."""
    part_dir.mkdir(parents=True, exist_ok=True)
    totals = dict.fromkeys(_COUNTERS, 0)
    with ExitStack() as stack:
        files = {name: stack.enter_context(open(part_dir / f"{name}.part", "wb", buffering=1 << 20))
                 for name in _PARTS}
        started = dict.fromkeys(_PARTS, False)

        def emit(name: str, element: bytes) -> None:
            if started[name]:
                files[name].write(b", ")
            else:
                started[name] = True
            files[name].write(element)

        for image_id in range(first_id, stop_id):
            _write_image(random.Random((seed << 32) | image_id), image_id, emit, totals)
    return totals


def _write_image(r: random.Random, image_id: int, emit, totals: dict) -> None:
    """Draw one image and emit its element for every file."""
    rnd, dumps = r.random, orjson.dumps
    width, height = _IMAGE_SIZES[int(rnd() * len(_IMAGE_SIZES))]
    place, pool = _POOLS[int(rnd() * len(_POOLS))]
    n_pool = len(pool)
    coco_id = 1_000_000 + image_id if rnd() < 0.5 else None
    flickr_id = 2_000_000_000 + int(rnd() * 8_000_000_000) if coco_id else None
    url = VG_URL.format(image_id)
    emit("image_data", dumps({"width": width, "url": url, "height": height, "image_id": image_id,
                              "coco_id": coco_id, "flickr_id": flickr_id}))

    # objects: (vocabulary entry, objects.json element); ids derive from the image id
    n_obj = _count(r, 34, 14, 3, 85)
    objs = []
    base = image_id * 100
    for k in range(n_obj):
        entry = pool[int(rnd() * n_pool)]
        sw0, sw1, sh0, sh1 = entry[4]
        w = int(width * (sw0 + sw1 * rnd())) or 1
        h = int(height * (sh0 + sh1 * rnd())) or 1
        x = int(rnd() * (width - w + 1))
        y = int(rnd() * (height - h + 1))
        if rnd() < 0.004:  # overhanging the right edge: ingest clips it
            w += 1 + int(rnd() * 40)
        oid = base + k
        objs.append((entry, {"synsets": entry[2], "h": h, "object_id": oid,
                             "merged_object_ids": [50_000_000 + oid] if rnd() < 0.1 else [],
                             "names": entry[1], "w": w, "y": y, "x": x}))
    emit("objects", dumps({"image_id": image_id, "objects": [o for _, o in objs], "image_url": url}))
    totals["objects"] += n_obj

    # attributes.json (v1.2): its own object list, mostly the same ids, some dropped, a few extra
    entries = [o for _, o in objs if rnd() < 0.92]
    for k in range(int(rnd() * 4)):
        entry = pool[int(rnd() * n_pool)]
        w, h = 10 + int(rnd() * width / 4), 10 + int(rnd() * height / 4)
        entries.append({"synsets": entry[2], "h": h, "object_id": base + 86 + k, "names": entry[1], "w": w,
                        "y": int(rnd() * (height - h)), "x": int(rnd() * (width - w))})
    n_attr = min(len(entries), _count(r, 23, 9, 1, 60))
    bearing = set(r.sample(range(len(entries)), n_attr))
    out = []
    for i, e in enumerate(entries):
        if i in bearing:
            chosen = [_ATTRIBUTES[int(rnd() * len(_ATTRIBUTES))] for _ in range(1 + int(rnd() * rnd() * 3.5))]
            out.append({"synsets": e["synsets"], "h": e["h"], "object_id": e["object_id"], "names": e["names"],
                        "w": e["w"], "attributes": chosen, "y": e["y"], "x": e["x"]})
        else:
            out.append({"synsets": e["synsets"], "h": e["h"], "object_id": e["object_id"], "names": e["names"],
                        "w": e["w"], "y": e["y"], "x": e["x"]})
    emit("attributes", dumps({"image_id": image_id, "attributes": out}))
    totals["attribute_objects"] += len(out)
    totals["attributes"] += n_attr

    # relationships: subject/object written with "name" (a string) mostly, "names" (a list) sometimes
    n_rel = _count(r, 23, 10, 0, 99) if n_obj > 1 else 0
    rels = []
    for k in range(n_rel):
        pair = []
        for _ in range(2):
            entry, o = objs[int(rnd() * n_obj)]
            if rnd() < 0.1:
                pair.append({"h": o["h"], "object_id": o["object_id"], "merged_object_ids": o["merged_object_ids"],
                             "synsets": o["synsets"], "w": o["w"], "y": o["y"], "x": o["x"], "names": o["names"]})
            else:
                pair.append({"name": entry[0], "h": o["h"], "synsets": o["synsets"], "object_id": o["object_id"],
                             "w": o["w"], "y": o["y"], "x": o["x"]})
        predicate, synsets = _PREDICATE_TABLE[int(rnd() * len(_PREDICATE_TABLE))]
        rels.append({"predicate": predicate, "object": pair[1], "relationship_id": base + k,
                     "synsets": synsets, "subject": pair[0]})
    emit("relationships", dumps({"relationships": rels, "image_id": image_id}))
    totals["relationships"] += n_rel

    # regions: a phrase and a box around one of the objects; the top-level key is "id", not "image_id"
    n_reg = _count(r, 50, 16, 1, 99)
    regions = []
    for k in range(n_reg):
        o = objs[int(rnd() * n_obj)][1]
        x = max(0, o["x"] - int(rnd() * 30))
        y = max(0, o["y"] - int(rnd() * 30))
        phrase = _phrase(rnd, objs, place)
        regions.append({"region_id": base + k, "width": min(width - x, o["w"] + int(rnd() * 60)),
                        "height": min(height - y, o["h"] + int(rnd() * 60)), "image_id": image_id,
                        "phrase": phrase + " " if rnd() < 0.04 else phrase, "y": y, "x": x})
    emit("region_descriptions", dumps({"regions": regions, "id": image_id}))
    totals["regions"] += n_reg
    totals["images"] += 1

    if coco_id is None:
        return
    totals["coco_images"] += 1
    captured = (f"2013-11-{14 + int(rnd() * 11):02d} "
                f"{int(rnd() * 24):02d}:{int(rnd() * 60):02d}:{int(rnd() * 60):02d}")
    flickr_url = f"http://farm{1 + int(rnd() * 9)}.staticflickr.com/{1000 + int(rnd() * 8000)}/{flickr_id}_z.jpg"
    emit("coco_images", dumps(coco_image(coco_id, width, height, 1 + int(rnd() * 8), captured, flickr_url)))
    for k in range(5):
        emit("coco_captions", dumps({"image_id": coco_id, "id": coco_id * 10 + k,
                                     "caption": _caption(rnd, objs, place)}))
    totals["captions"] += 5

    n_inst = 0
    for entry, o in objs:
        if not entry[3] or n_inst >= 20:
            continue
        x, y = o["x"], o["y"]
        w, h = min(o["w"], width - x), o["h"]
        if rnd() < 0.012:  # a crowd region: iscrowd=1 with an uncompressed RLE, like the official files
            tops = [y + int(rnd() * h / 3) for _ in range(w)]
            bottoms = [y + h - int(rnd() * h / 4) for _ in range(w)]
            top = min(tops)
            ann = {"segmentation": {"counts": uncompressed_rle(tops, bottoms, x, width, height),
                                    "size": [height, width]},
                   "area": sum(bottoms) - sum(tops), "iscrowd": 1, "image_id": coco_id,
                   "bbox": [float(x), float(top), float(w), float(max(bottoms) - top)],
                   "category_id": entry[3], "id": 900_100_000_000 + coco_id * 100 + n_inst}
            totals["crowd_instances"] += 1
        else:
            segmentation, bbox, area = polygon_in_box(rnd, x, y, w, h, width, height)
            ann = {"segmentation": segmentation, "area": area, "iscrowd": 0, "image_id": coco_id,
                   "bbox": bbox, "category_id": entry[3], "id": coco_id * 100 + n_inst}
        emit("coco_instances", dumps(ann))
        n_inst += 1
    totals["instances"] += n_inst
