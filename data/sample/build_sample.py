"""Author the bundled sample annotation set (data/sample/visual_genome/*.json, data/sample/coco/*.json).

The sample has to be small enough to read, coherent enough that the offline generator asks sensible
questions about it, and consistent across seven files (ids, boxes, VG↔COCO joins). So every scene is written
once below, declaratively, and everything else — ids, region boxes, COCO polygons and crowd masks, the JSON
in the official key order and serialisation — follows from it deterministically. The script also checks
what a hand edit could break: counts per image, labels, spatial predicates that contradict the boxes.

    .venv/bin/python data/sample/build_sample.py

Scene syntax
- objects: `label  synset  x y w h  [attribute, attribute, ...]`, one per line. The label is the VG name;
  `#n` tells instances apart (`tomato#2` is named "tomato"). Boxes are pixels and are written as VG has
  them, quirks included (partly or fully outside the image, zero or negative size).
- extras: objects only the v1.2 attributes.json knows (VG's two object lists do not line up).
- relationships: `subject | predicate | object`, predicates spelled (and cased) as VG spells them.
- regions: `label, label | phrase` (box = the objects' union, padded) or `@x y w h | phrase`; a final `~`
  stands for the trailing space many VG phrases carry.
- coco: `label = category`; `*` after the category makes it a crowd (iscrowd=1, uncompressed RLE like the
  official files), `**` a crowd stored as a compressed RLE string.
"""

from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a checkout without installing the package

from svit_assets.synth import (  # noqa: E402
    COCO_CATEGORY_IDS,
    VG_URL,
    coco_header,
    coco_image,
    polygon_in_box,
)


@dataclass(frozen=True)
class Scene:
    image_id: int
    title: str
    size: tuple[int, int]
    objects: str
    relationships: str
    regions: str
    coco_id: int | None = None
    captions: tuple[str, ...] = ()
    coco: str = ""
    extras: str = ""


SCENES = [
    Scene(
        image_id=2500001, title="kitchen: a woman cutting vegetables", size=(800, 600), coco_id=700101,
        objects="""
            wall            wall.n.01             0   0 800 360   yellow, painted
            window          window.n.01         300  40 220 170   bright, open
            windowsill      windowsill.n.01     295 205 230  15
            curtain         curtain.n.01        270  30  50 200   white, sheer
            cabinet#1       cabinet.n.01          0   0 260 150   wooden, brown
            cabinet#2       cabinet.n.01        560   0 240 150
            light           light.n.02          380   0  60  30   on, bright
            counter         counter.n.01          0 360 820 240   granite, gray
            woman           woman.n.01          320  95 180 300   smiling, young
            hair            hair.n.01           370  95  80  70   brown, long
            shirt           shirt.n.01          330 170 170 120   white
            apron           apron.n.01          350 190 130 200   red, striped
            hand#1          hand.n.01           360 330  40  35
            hand#2          hand.n.01           450 320  40  40
            knife           knife.n.01          445 325  95  25   sharp, silver, metal
            cutting board   chopping_board.n.01 340 355 220  50   wooden
            tomato#1        tomato.n.01         370 350  40  35   red, ripe
            tomato#2        tomato.n.01         590 375  38  34   red
            tomato#3        tomato.n.01         630 380  36  32
            carrot#1        carrot.n.03         470 370  70  18   orange, sliced
            carrot#2        carrot.n.03         200 390  90  20   orange
            onion           onion.n.03          250 370  45  42   white, peeled
            bowl            bowl.n.01           100 340 120  60   blue, ceramic
            spoon           spoon.n.01          150 320  15  45   wooden
            stove           stove.n.02          660 320 140  50   black
            pot             pot.n.01            690 250  90  80   steel, shiny
            plant           plant.n.02          470 160  40  55   green, potted
            jar#1           jar.n.01             40 300  45  65   glass
            jar#2           jar.n.01             95 305  40  60
            towel           towel.n.01           30 400  60  90   checkered
        """,
        extras="""
            tomatoes        tomato.n.01         585 372  85  42   red
        """,
        relationships="""
            woman | holding | knife
            hand#2 | holding | knife
            hand#1 | holding | tomato#1
            woman | WEARING | apron
            woman | wearing | shirt
            woman | has | hair
            woman | standing at | counter
            tomato#1 | ON | cutting board
            carrot#1 | on | cutting board
            cutting board | on top of | counter
            knife | above | cutting board
            bowl | ON | counter
            spoon | in | bowl
            pot | on | stove
            stove | on | counter
            tomato#2 | next to | tomato#3
            plant | on | windowsill
            curtain | hanging by | window
            cabinet#1 | on | wall
            jar#1 | next to | jar#2
            towel | hanging on | counter
            light | hanging above | woman
        """,
        regions="""
            woman | a woman cutting vegetables in a kitchen
            woman, knife | woman holding a large kitchen knife
            hair | the woman has long brown hair
            apron | a red striped apron~
            shirt | white shirt under the apron
            tomato#1, hand#1 | her hand holds a ripe tomato
            tomato#2, tomato#3 | two red tomatoes on the counter
            cutting board | wooden cutting board on the counter
            carrot#1 | sliced carrot on the cutting board
            bowl, spoon | a wooden spoon in a blue bowl
            pot, stove | a steel pot on a black stove
            window, curtain | bright window with a white curtain~
            plant | small potted plant on the windowsill
            cabinet#1 | brown wooden cabinets
            light | the ceiling light is on
            jar#1, jar#2 | two glass jars against the wall
            towel | checkered towel hanging from the counter
            onion | a peeled white onion
            counter | a long gray granite counter
            carrot#2 | an orange carrot lying on the counter
            woman, cutting board | woman standing at the cutting board
        """,
        captions=(
            "A woman cutting vegetables on a wooden board in a kitchen.",
            "A smiling woman in an apron slices carrots at the counter.",
            "A young woman preparing food with a knife next to some tomatoes.",
            "A woman chopping vegetables in a kitchen with brown cabinets. ",
            "A person in a red apron prepares a meal on a kitchen counter.",
        ),
        coco="""
            woman = person
            knife = knife
            bowl = bowl
            spoon = spoon
            carrot#1 = carrot
            carrot#2 = carrot
            plant = potted plant
            stove = oven
        """,
    ),
    Scene(
        image_id=2500002, title="city street with buses and a traffic light", size=(1024, 768), coco_id=700102,
        objects="""
            sky             sky.n.01              0   0 1024 180  blue, clear
            cloud           cloud.n.02          600  30 200  60   white
            building#1      building.n.01         0  60 380 360   tall, brick
            building#2      building.n.01       380 100 300 320   gray, concrete
            building#3      building.n.01       680  40 344 400   glass, modern
            window#1        window.n.01          60 120  60  70
            window#2        window.n.01         200 120  60  70
            window#3        window.n.01         450 160  50  60
            road            road.n.01             0 430 1024 338  asphalt, gray
            crosswalk       crosswalk.n.01      200 640 560  80   white, striped
            sidewalk        sidewalk.n.01       780 440 244 328   concrete
            bus#1           bus.n.01            -30 330 420 230   red, double decker
            bus#2           bus.n.01            420 360 260 170   white, large
            wheel#1         wheel.n.01           60 510  60  60   black
            wheel#2         wheel.n.01          300 510  60  60
            advertisement   ad.n.01             450 440 120  40   colorful
            car#1           car.n.01            150 560 200 110   black
            car#2           car.n.01            700 470  90  60   silver, parked
            taxi            cab.n.03            560 520 180 100   yellow
            license plate   license_plate.n.01  230 640  40  15
            headlight       headlight.n.01      560 570  20  15   on
            shadow          shadow.n.02         150 660 220  40
            traffic light   traffic_light.n.01  775 150  44 105   red, lit
            pole            pole.n.01           790 250  18 290
            street sign     street_sign.n.01    800 300  80  30   green
            man#1           man.n.01            850 380  70 230   walking
            backpack        backpack.n.01       860 420  40  60   blue
            woman           woman.n.01          930 390  60 220   young
            handbag         bag.n.04            940 480  30  40   black, leather
            man#2           man.n.01            805 400  45 200
            tree            tree.n.01           950  80 100 330   green, leafy
            bicycle         bicycle.n.01        880 560 110  70   parked, blue
        """,
        relationships="""
            bus#1 | ON | road
            bus#2 | driving on | road
            bus#1 | has | wheel#1
            wheel#2 | on | bus#1
            advertisement | on side of | bus#2
            car#1 | on | crosswalk
            car#1 | has | license plate
            shadow | under | car#1
            taxi | next to | bus#2
            headlight | on | taxi
            car#2 | parked on | road
            traffic light | on | pole
            street sign | ON | pole
            man#1 | walking on | sidewalk
            man#1 | WEARING | backpack
            woman | walking on | sidewalk
            woman | holding | handbag
            man#2 | standing on | sidewalk
            bicycle | parked on | sidewalk
            tree | next to | woman
            building#2 | behind | bus#2
            window#1 | on | building#1
            window#3 | on | building#2
            cloud | in | sky
        """,
        regions="""
            bus#1 | a red double decker bus
            bus#1, road | red bus driving on the road
            bus#2 | a large white bus
            bus#2, advertisement | colorful advertisement on the side of the bus~
            wheel#1 | black wheel of the bus
            wheel#2 | the rear wheel of a red bus
            car#1 | a black car at the crosswalk
            car#1, license plate | white license plate on the black car
            taxi | a yellow taxi cab
            taxi, headlight | the headlight of the taxi is on
            car#2 | a silver car parked down the street
            crosswalk | white stripes of a crosswalk
            road | gray asphalt road
            sidewalk | concrete sidewalk beside the street
            traffic light | the traffic light is red
            traffic light, pole | traffic light mounted on a black pole
            street sign | green street sign on the pole~
            man#1 | a man walking on the sidewalk
            man#1, backpack | man carrying a blue backpack
            woman | a young woman walking
            woman, handbag | woman holding a black leather handbag
            man#2 | a man standing near the pole
            man#1, woman, man#2 | three people on the sidewalk
            tree | a leafy green tree at the edge of the street
            bicycle | a blue bicycle parked on the sidewalk
            building#1 | tall brick building
            building#1, window#1, window#2 | windows on the brick building
            building#2 | gray concrete building behind the bus
            building#3 | modern glass building
            window#3 | a rectangular window
            sky | clear blue sky
            cloud | a white cloud in the sky
            shadow | shadow of the car on the road
            bus#1, bus#2 | two buses on the street
            car#1, taxi, car#2 | cars on a city street
            bus#2, taxi | taxi next to the white bus
            traffic light, street sign | traffic light and street sign at the corner
            @0 0 1024 430 | tall buildings along a city street
            @150 430 874 338 | busy traffic in the city
            man#1, bicycle | a parked bike next to a man
            sidewalk, tree | tree growing by the sidewalk
            road, crosswalk | pedestrian crossing painted on the road~
            bus#1, wheel#1, wheel#2 | the bus has black wheels
            @-20 300 420 280 | front of the red bus
            car#1, shadow | black car casting a shadow
            building#3, sky | glass building against the blue sky
            woman, tree | woman walking past a tree
            pole | a tall black metal pole
        """,
        captions=(
            "A red double decker bus driving down a busy city street.",
            "Two buses and several cars on a street next to tall buildings.",
            "People walk on the sidewalk beside a street with buses and a traffic light.",
            "A city street with buses, a yellow taxi and a red traffic light.",
            "Traffic stopped at a crosswalk in a downtown area.",
        ),
        coco="""
            bus#1 = bus
            bus#2 = bus
            car#1 = car
            car#2 = car
            taxi = car
            traffic light = traffic light
            man#1 = person
            woman = person
            man#2 = person
            backpack = backpack
            handbag = handbag
            bicycle = bicycle
        """,
    ),
    Scene(
        image_id=2500003, title="beach with surfboards", size=(640, 480), coco_id=700103,
        objects="""
            sky             sky.n.01              0   0 640 150   blue, cloudless
            ocean           ocean.n.01            0 140 640 130   blue, calm
            wave#1          wave.n.01           170 205 150  40   white, small
            wave#2          wave.n.01           350 230 180  35   white
            beach           beach.n.01            0 260 640 220   sandy, white
            surfboard#1     surfboard.n.01       90 210  45 190   yellow
            surfboard#2     surfboard.n.01      145 220  42 185   white
            surfboard#3     surfboard.n.01      330 330 260  40   blue, long
            surfboard#4     surfboard.n.01      212 218  50  12
            man             man.n.01            420 200  90 260   shirtless, tanned
            shorts          short_pants.n.01    430 320  70  60   red
            sunglasses      sunglasses.n.01     445 215  35  10   dark
            woman           woman.n.01          230 230  70 220   smiling
            swimsuit        swimsuit.n.01       240 290  50  70   pink
            hair            hair.n.01           245 230  40  40   blonde, wet
            umbrella        umbrella.n.01       490 150 160 100   striped, colorful
            pole            pole.n.01           565 240   8 140   white
            chair           chair.n.01          520 350 100  80   folding, blue
            towel           towel.n.01           40 420 160  60   striped
            bird            bird.n.01           300  60  30  15   flying, white
            boat            boat.n.01           520 170  60  25   small, distant
            footprints      footprint.n.01      150 400 100  40
            cooler          cooler.n.01         590 400  40  40   red
            person#1        person.n.01         380 200  20  20   swimming
            person#2        person.n.01         220 190  30  35   surfing
        """,
        relationships="""
            surfboard#1 | stuck in | beach
            surfboard#2 | next to | surfboard#1
            man | carrying | surfboard#3
            man | WEARING | shorts
            man | wearing | sunglasses
            woman | wearing | swimsuit
            woman | has | hair
            woman | standing on | beach
            man | walking on | beach
            umbrella | on top of | pole
            chair | ON | beach
            towel | on | beach
            boat | in | ocean
            bird | flying in | sky
            wave#1 | in | ocean
            person#2 | riding | surfboard#4
            person#2 | on | wave#1
            person#1 | swimming in | ocean
            cooler | next to | chair
            footprints | in | beach
        """,
        regions="""
            surfboard#1, surfboard#2 | two surfboards standing in the sand
            surfboard#1 | a yellow surfboard
            surfboard#2 | white surfboard stuck in the sand~
            man, surfboard#3 | man carrying a long blue surfboard
            man | a shirtless man walking on the beach
            shorts | red board shorts
            sunglasses | man wearing dark sunglasses
            woman | a smiling woman on the beach
            woman, swimsuit | woman in a pink swimsuit
            hair | wet blonde hair
            umbrella | a colorful striped beach umbrella
            chair | a blue folding chair in the sand
            towel | striped towel lying on the sand
            ocean | calm blue ocean
            wave#1, person#2 | a surfer riding a small wave
            wave#2 | white wave breaking near the shore
            boat | a small boat in the distance
            bird | a white bird flying over the water
            sky | clear blue sky with no clouds
            beach | white sandy beach
            footprints | footprints in the sand~
            cooler | red cooler next to the chair
            person#1 | a person swimming in the ocean
        """,
        captions=(
            "Surfboards standing in the sand on a sunny beach.",
            "A man carrying a blue surfboard walks along the beach.",
            "People enjoying a sunny day at the beach with surfboards and an umbrella.",
            "A woman in a pink swimsuit stands near two surfboards on the sand.",
            "A surfer rides a small wave while others relax on the beach.",
        ),
        coco="""
            surfboard#1 = surfboard
            surfboard#2 = surfboard
            surfboard#3 = surfboard
            surfboard#4 = surfboard
            man = person
            woman = person
            person#1 = person
            person#2 = person
            umbrella = umbrella
            chair = chair
            boat = boat
            bird = bird
        """,
    ),
    Scene(
        image_id=2500004, title="living room with a cat on the sofa", size=(800, 600),
        objects="""
            wall            wall.n.01             0   0 800 430   beige
            floor           floor.n.01            0 430 800 170   wooden
            sofa            sofa.n.01           120 250 480 250   gray, fabric
            cushion#1       cushion.n.03        160 270 110  90   striped
            cushion#2       cushion.n.03        450 265 110  95   orange
            cat             cat.n.01            300 300 140  90   sleeping, orange, tabby
            tail            tail.n.01           420 350  60  20   striped
            blanket         blanket.n.01        480 340 120 120   knitted, red
            coffee table    cocktail_table.n.01 230 470 300  90   wooden, low
            remote          remote_control.n.01 280 485  50  15   black
            mug             mug.n.04            400 470  35  40   white, ceramic
            book            book.n.01           330 490  60  20   closed
            magazine        magazine.n.01       450 500  60  30
            lamp            lamp.n.02           640 150  80 300   tall
            window          window.n.01          30  60 180 180   large
            curtain         curtain.n.01          0  40  60 250   white, sheer
            painting        painting.n.01       300  60 200 130   framed, abstract
            plant           plant.n.02          700 330  80 120   green
            pot             pot.n.04            715 400  50  50   terracotta
            rug             rug.n.01            150 520 520  80   blue, patterned
            clock           clock.n.01          560  70  60  60   round, white
            slippers        slipper.n.01        560 560  60  30   fuzzy
        """,
        extras="""
            lampshade       lampshade.n.01      640 150  80  70   white
        """,
        relationships="""
            cat | sleeping on | sofa
            cat | has | tail
            cushion#1 | ON | sofa
            cushion#2 | on | sofa
            blanket | draped over | sofa
            remote | on | coffee table
            mug | on top of | coffee table
            book | ON | coffee table
            magazine | next to | mug
            coffee table | on | rug
            rug | on | floor
            painting | hanging on | wall
            clock | on | wall
            lamp | next to | sofa
            plant | in | pot
            curtain | hanging by | window
            slippers | on | rug
            sofa | in front of | wall
        """,
        regions="""
            cat | an orange tabby cat sleeping
            cat, sofa | a cat curled up on the sofa
            sofa | a gray fabric sofa
            cushion#1 | a striped cushion~
            cushion#2 | orange cushion on the couch
            blanket | red knitted blanket draped over the arm of the sofa
            coffee table | low wooden coffee table
            remote, book | a remote and a book on the table
            mug | a white ceramic mug
            magazine | a magazine on the coffee table
            lamp | a tall floor lamp
            window, curtain | a large window with sheer curtains
            painting | abstract painting hanging on the wall
            clock | a round white clock on the wall
            plant, pot | green plant in a terracotta pot
            rug | blue patterned rug on the wooden floor
            slippers | a pair of fuzzy slippers~
            floor | wooden floor
            tail | the cat's striped tail
            @0 0 800 600 | a cozy living room
        """,
    ),
    Scene(
        image_id=2500005, title="baseball game at home plate", size=(800, 533), coco_id=700105,
        objects="""
            crowd           crowd.n.01            0  10 800 140   cheering, large
            bleachers       bleachers.n.01        0   0 800 160   crowded
            wall            wall.n.01             0 150 800  80   green, padded
            sign            sign.n.02           300 165 200  50   blue
            field           field.n.01            0 230 800 303   green, grassy
            dirt            dirt.n.02           150 330 520 203   brown
            home plate      home_plate.n.01     380 470  50  20   white
            batter          batter.n.01         330 230 110 260   swinging
            bat#1           bat.n.05            400 190 140  55   wooden
            helmet#1        helmet.n.02         360 230  50  45   black, shiny
            uniform         uniform.n.01        335 280 100 200   white, striped
            cleats          cleat.n.02          350 470  80  20   black
            catcher         catcher.n.01        440 380 100 120   crouching
            glove           baseball_glove.n.01 440 400  45  40   brown, leather
            helmet#2        helmet.n.02         470 380  45  45   blue
            umpire          umpire.n.01         520 330 110 190   standing
            shirt           shirt.n.01          525 370 100  80   black
            ball            ball.n.01           600 250  12  12   white
            player          player.n.01          60 250  70 180   waiting
            bat#2           bat.n.05            110 220  20 110   black, metal
        """,
        relationships="""
            batter | swinging | bat#1
            batter | WEARING | helmet#1
            batter | wearing | uniform
            batter | has | cleats
            batter | standing on | dirt
            catcher | behind | home plate
            catcher | has | glove
            catcher | wearing | helmet#2
            umpire | standing behind | catcher
            umpire | wears | shirt
            player | holding | bat#2
            player | standing on | field
            crowd | sitting in | bleachers
            sign | ON | wall
            home plate | on | dirt
            ball | above | field
            wall | in front of | bleachers
        """,
        regions="""
            batter | a baseball player swinging a bat
            batter, bat#1 | batter swinging a wooden bat
            helmet#1 | shiny black batting helmet
            uniform | white striped uniform~
            catcher | a catcher crouching behind the plate
            catcher, glove | catcher holding out his brown glove
            helmet#2 | the catcher's blue helmet
            umpire | the umpire standing behind the catcher
            shirt | umpire wearing a black shirt
            home plate | white home plate in the dirt
            ball | a white baseball in the air
            player, bat#2 | a player waiting with a metal bat
            crowd | a large crowd of fans in the stands
            bleachers | crowded bleachers behind the field
            sign | blue sign on the padded wall~
            wall | green padded wall
            field | green grass of the baseball field
            dirt | brown dirt around home plate
            cleats | black cleats on the batter's feet
            batter, catcher, umpire | batter, catcher and umpire at home plate
        """,
        captions=(
            "A baseball player swinging a bat at home plate.",
            "A batter, a catcher and an umpire during a baseball game.",
            "A crowd watches a batter swing at a pitch.",
            "A baseball game in progress with fans in the stands.",
            "The batter in a white uniform swings as the catcher waits behind the plate.",
        ),
        coco="""
            batter = person
            catcher = person
            umpire = person
            player = person
            crowd = person*
            bat#1 = baseball bat
            bat#2 = baseball bat
            glove = baseball glove
            ball = sports ball
        """,
    ),
    Scene(
        image_id=2500006, title="giraffes in a zoo enclosure", size=(375, 500), coco_id=700106,
        objects="""
            sky             sky.n.01              0   0 375 120   blue
            tree#1          tree.n.01             0   0 150 300   tall, leafy
            leaves          leaf.n.01             0   0 150 120   green
            tree#2          tree.n.01           250  20 125 260   green
            giraffe#1       giraffe.n.01        120  55 180 385   tall, spotted
            head            head.n.01           200  60  60  70
            horns           horn.n.02           215  55  20  20   small
            neck            neck.n.01           190 100  60 150   long
            mane            mane.n.01           215 110  20 120   short, brown
            spots           spot.n.01           150 240 100 100   brown
            legs            leg.n.01            150 330 120 110   long, thin
            tail            tail.n.01           140 250  20  60
            giraffe#2       giraffe.n.01         40 230 100 210   young, small
            basket          basket.n.01         250  90  50  45   wire
            hay             hay.n.01            255  95  40  30   dry, yellow
            fence           fence.n.01            0 360 375  70   wooden
            building        building.n.01       280 250  95 120   brick, small
            grass           grass.n.01            0 400 375 100   green, short
            dirt            dirt.n.02           100 430 200  70   brown
            rock            rock.n.01            20 440  60  40   large, gray
            bird            bird.n.01           320  60  20  12   small, black
        """,
        relationships="""
            giraffe#1 | eating | hay
            hay | in | basket
            basket | hanging from | tree#2
            giraffe#1 | has | neck
            giraffe#1 | HAS | head
            giraffe#1 | has | horns
            giraffe#1 | has | legs
            giraffe#1 | has | mane
            giraffe#1 | has | tail
            giraffe#1 | has | spots
            giraffe#2 | standing next to | giraffe#1
            giraffe#2 | standing on | grass
            giraffe#1 | standing on | dirt
            fence | behind | giraffe#2
            rock | ON | grass
            bird | perched on | tree#2
            leaves | on | tree#1
            building | behind | fence
        """,
        regions="""
            giraffe#1 | a tall spotted giraffe
            giraffe#1, hay | giraffe eating hay from a basket
            giraffe#2 | a young giraffe~
            giraffe#1, giraffe#2 | two giraffes in an enclosure
            neck | the giraffe's long neck
            head, horns | small horns on the giraffe's head
            mane | short brown mane along the neck
            spots | brown spots on the giraffe
            legs | long thin legs
            basket | a wire basket hanging from the tree
            hay | dry yellow hay
            fence | a wooden fence around the enclosure
            building | small brick building behind the fence
            tree#1 | a tall leafy tree
            tree#2, bird | a small black bird in the tree
            grass | short green grass
            rock | large gray rock in the grass
            dirt | brown dirt under the giraffe~
            sky | patch of blue sky
        """,
        captions=(
            "A tall giraffe eating hay from a basket at the zoo.",
            "Two giraffes standing in a grassy enclosure near a wooden fence.",
            "An adult giraffe and a young giraffe in a zoo pen.",
            "A giraffe reaches up to a feeder hanging from a tree.",
            "A baby giraffe stands beside its mother in an enclosure with trees.",
        ),
        coco="""
            giraffe#1 = giraffe
            giraffe#2 = giraffe
            bird = bird
        """,
    ),
    Scene(
        image_id=2500007, title="pizza on a dinner table", size=(640, 480), coco_id=700107,
        objects="""
            wall            wall.n.01             0   0 640 180   white
            table           table.n.02            0 180 640 300   wooden, brown
            pan             pan.n.01            160 210 320 220   metal, round
            pizza           pizza.n.01          180 220 280 200   cheesy, hot, round
            cheese          cheese.n.01         220 250 200 140   melted
            pepperoni#1     pepperoni.n.01      250 270  30  25   red
            pepperoni#2     pepperoni.n.01      330 300  30  25
            pepperoni#3     pepperoni.n.01      380 260  30  25
            crust           crust.n.02          180 390 280  30   golden, crispy
            plate           plate.n.04          460 280 160 120   white, ceramic
            slice           slice.n.02          490 300 100  70   triangular
            glass           glass.n.02           60 120  60 130   tall, full
            wine glass      wineglass.n.01      530 110  55 120   empty
            bottle          bottle.n.01          10  60  50 190   green, glass
            knife           knife.n.01          100 330  20 120   silver
            fork            fork.n.01           130 340  15 110   metal
            napkin          napkin.n.01          60 380 110  90   white, folded
            person          person.n.01         450   0 190 200
            hand            hand.n.01           460 160  80  60
            candle          candle.n.01         300 150  25  60   lit
            salt shaker     saltshaker.n.01     590 240  30  45   glass
        """,
        extras="""
            toppings        topping.n.01        240 260 180  80   colorful
        """,
        relationships="""
            pizza | on | pan
            pan | ON | table
            cheese | on | pizza
            pepperoni#1 | on top of | pizza
            pepperoni#2 | on | pizza
            pepperoni#3 | ON | pizza
            pizza | has | crust
            slice | on | plate
            plate | on | table
            glass | on | table
            wine glass | on | table
            bottle | next to | glass
            knife | on | napkin
            fork | next to | knife
            person | has | hand
            hand | above | plate
            candle | on | table
            salt shaker | on | table
            wall | behind | table
        """,
        regions="""
            pizza | a large pepperoni pizza
            pizza, pan | pizza on a round metal pan
            cheese | melted cheese on the pizza~
            pepperoni#1, pepperoni#2, pepperoni#3 | slices of pepperoni
            crust | golden crispy crust
            slice, plate | a slice of pizza on a white plate
            plate | white ceramic plate
            glass | a tall full glass
            wine glass | an empty wine glass
            bottle | a green glass bottle
            bottle, glass | a bottle next to a glass
            knife, fork | a knife and fork on the table
            napkin | a folded white napkin~
            person, hand | a person reaching for a slice of pizza
            candle | a lit candle on the table
            salt shaker | a glass salt shaker
            table | a brown wooden table
            wall | white wall behind the table
            pizza, slice | a whole pizza and a single slice
        """,
        captions=(
            "A large pepperoni pizza on a metal pan on a wooden table.",
            "A cheesy pizza sits on a table next to glasses and a bottle.",
            "A slice of pizza on a white plate beside a whole pizza.",
            "A person reaches for a slice of pizza at a dinner table.",
            "A hot pepperoni pizza served on a table with a lit candle.",
        ),
        coco="""
            pizza = pizza
            slice = pizza
            glass = cup
            wine glass = wine glass
            bottle = bottle
            knife = knife
            fork = fork
            table = dining table
            person = person
        """,
    ),
    Scene(
        image_id=2500008, title="man riding a horse in a field", size=(500, 375),
        objects="""
            sky             sky.n.01              0   0 500 120   blue, cloudy
            cloud           cloud.n.02          300  20 120  40   white, fluffy
            hill            hill.n.01             0  90 500  80   green, rolling
            field           field.n.01            0 160 500 215   grassy, green
            horse           horse.n.01          150 130 220 210   brown, galloping
            head            head.n.01           320 130  50  60
            mane            mane.n.01           300 140  40  60   black
            tail            tail.n.01           150 170  30  80   black, long
            legs            leg.n.01            170 270 180  70   muscular
            man             man.n.01            200  50  90 170   riding
            hat             hat.n.01            225  50  45  25   tan, cowboy
            shirt           shirt.n.01          210  85  75  70   plaid, blue
            jeans           jean.n.01           215 150  60  70   blue, denim
            boots           boot.n.01           230 200  40  30   brown, leather
            saddle          saddle.n.01         200 150  90  50   leather
            reins           rein.n.01           260 130  70  40
            fence           fence.n.01          380 200 120  60   wooden
            tree            tree.n.01           430  70  60 120   tall
            dog             dog.n.01             60 280  60  45   black, running
            shadow          shadow.n.02         160 330 200  30   dark
            dust            dust.n.01           150 320 150  40
            bird            bird.n.01           520  30  25  15   flying
        """,
        relationships="""
            man | riding | horse
            man | WEARING | hat
            man | wearing | shirt
            man | wears | jeans
            man | wearing | boots
            saddle | on | horse
            man | sitting on | saddle
            man | holding | reins
            horse | has | mane
            horse | has | tail
            horse | has | head
            horse | running on | field
            dog | running next to | horse
            tree | behind | fence
            cloud | in | sky
            shadow | under | horse
            dust | kicked up by | horse
        """,
        regions="""
            man, horse | a man riding a brown horse
            horse | a brown horse galloping
            man | a man in a cowboy hat
            hat | tan cowboy hat
            shirt | blue plaid shirt~
            jeans | blue denim jeans
            boots | brown leather boots
            saddle | leather saddle on the horse
            reins | the man holds the reins
            mane | the horse has a black mane
            tail | long black tail
            legs | muscular legs of the horse
            dog | a black dog running beside the horse
            fence | a wooden fence
            tree | a tall tree in the distance
            hill | green rolling hills
            field | a grassy field
            cloud | white fluffy cloud~
            shadow | shadow of the horse on the grass
            dust | dust kicked up by the hooves
        """,
    ),
    Scene(
        image_id=2500009, title="bathroom with a sink and a toilet", size=(600, 800),
        objects="""
            wall            wall.n.01             0   0 600 560   white, tiled
            tile            tile.n.01           120 300   0  40
            floor           floor.n.01            0 560 600 240   gray, tiled
            mirror          mirror.n.01         150  80 300 220   rectangular, clean
            reflection      reflection.n.05     200 120 150 150
            light           light.n.02          200  20 200  40   bright, on
            sink            sink.n.01           170 340 260  80   white, porcelain
            faucet          faucet.n.01         280 310  40  40   chrome, shiny
            soap dispenser  dispenser.n.01      190 320  25  40   pink
            cup             cup.n.01            360 325  30  35   plastic, green
            toothbrush      toothbrush.n.01     368 300  12  45   blue
            cabinet         cabinet.n.01        150 400 300 160   wooden
            drawer#1        drawer.n.01         170 430 120  50   closed
            drawer#2        drawer.n.01         310 430 120  50   closed
            toilet          toilet.n.02         430 470 140 230   white
            lid             lid.n.02            440 470 110  60   closed
            toilet paper    toilet_tissue.n.01  575 520  30  40   white
            towel rack      rack.n.01            10 290 110  15   metal
            towel#1         towel.n.01           20 300  45 170   blue, folded
            towel#2         towel.n.01           65 302  50 150   white
            shelf           shelf.n.01          470 340 120  15   glass
            plant           plant.n.02          500 260  50  85   small, green
            rug             rug.n.01            150 640 250  80   fluffy, blue
        """,
        relationships="""
            mirror | above | sink
            faucet | on | sink
            sink | ON | cabinet
            toilet | next to | cabinet
            lid | on | toilet
            toilet paper | next to | toilet
            towel#1 | hanging on | towel rack
            towel#2 | hanging on | towel rack
            rug | on | floor
            soap dispenser | on | sink
            toothbrush | in | cup
            cup | on | sink
            plant | on | shelf
            drawer#1 | part of | cabinet
            reflection | in | mirror
            light | above | mirror
            toilet | on | floor
            shelf | on | wall
        """,
        regions="""
            mirror | a large rectangular mirror
            mirror, reflection | reflection in the mirror
            sink | a white porcelain sink
            faucet | shiny chrome faucet~
            soap dispenser | pink soap dispenser on the sink
            toothbrush, cup | a toothbrush in a green cup
            cabinet | wooden cabinet under the sink
            drawer#1, drawer#2 | two closed drawers
            toilet | a white toilet
            lid | the toilet lid is closed
            toilet paper | roll of toilet paper~
            towel#1 | a folded blue towel
            towel#1, towel#2, towel rack | towels hanging on a metal rack
            plant, shelf | small plant on a glass shelf
            rug | fluffy blue bath mat
            floor | gray tiled floor
            wall | white tiled wall
            light | bright light above the mirror
            @120 300 0 40 | grout line between the tiles
        """,
    ),
    Scene(
        image_id=2500010, title="tennis player swinging a racket", size=(640, 427), coco_id=700110,
        objects="""
            fence           fence.n.01            0   0 640 200   green, tall
            sign            sign.n.02           420 110 150  40   white
            court           court.n.01            0 180 640 247   blue, hard
            net             net.n.05              0 200 640  60   black
            line            line.n.01             0 380 640   8   white
            woman           woman.n.01          250  60 120 330   athletic
            ponytail        ponytail.n.01       250  70  30  50   blonde
            visor           visor.n.01          275  60  50  20   white
            arm             arm.n.01            330  80  40  80   raised
            wristband       wristband.n.01      340 140  15  15   white
            racket          racket.n.04         340  40  80 110   yellow
            shirt           shirt.n.01          265 110  95 115   pink, sleeveless
            skirt           skirt.n.02          270 220  80  60   white, pleated
            shoes           shoe.n.01           270 365  90  25   white
            ball#1          tennis_ball.n.01    440  60  15  15   yellow, fuzzy
            ball#2          tennis_ball.n.01    100 360  14  14   yellow
            shadow          shadow.n.02         230 380 150  30   dark
            chair           chair.n.01          560 150  70  80   green, empty
            towel           towel.n.01          565 185  40  25   white
            bottle          bottle.n.01          30 160  20  45   plastic
            bag             bag.n.01             60 170  90  40   black
            boy             male_child.n.01     590 250  40 100   kneeling
        """,
        relationships="""
            woman | holding | racket
            woman | hitting | ball#1
            woman | WEARING | visor
            woman | wearing | skirt
            woman | wearing | shirt
            woman | has | ponytail
            woman | wears | shoes
            woman | standing on | court
            ball#1 | above | court
            ball#2 | on | court
            sign | ON | fence
            towel | on | chair
            bag | next to | bottle
            shadow | on | court
            boy | kneeling on | court
            wristband | on | arm
            line | painted on | court
        """,
        regions="""
            woman | a woman playing tennis
            woman, racket | woman swinging a yellow tennis racket
            racket | yellow tennis racket
            ball#1 | a tennis ball in the air
            ball#2 | a yellow ball lying on the court
            visor | white visor on her head
            ponytail | blonde ponytail~
            shirt | pink sleeveless shirt
            skirt | white pleated tennis skirt
            shoes | white tennis shoes
            wristband | a white wristband
            court | blue hard tennis court
            net | black net across the court
            line | white baseline on the court
            fence | tall green fence
            sign | white sign on the fence~
            chair, towel | a towel draped on a green chair
            boy | a ball boy kneeling at the side of the court
            bottle, bag | a water bottle next to a black bag
            shadow | player's shadow on the court
        """,
        captions=(
            "A woman swinging a tennis racket at a ball on a blue court.",
            "A female tennis player in a white skirt prepares to hit the ball.",
            "A tennis player reaches up to serve the yellow ball.",
            "A woman playing tennis while a ball boy kneels at the side of the court.",
            "A tennis match on a hard court with a green fence in the background.",
        ),
        coco="""
            woman = person
            boy = person
            racket = tennis racket
            ball#1 = sports ball
            ball#2 = sports ball
            bottle = bottle
            chair = chair
        """,
    ),
    Scene(
        image_id=2500011, title="dog catching a frisbee in a park", size=(800, 600), coco_id=700111,
        objects="""
            sky             sky.n.01              0   0 800 150   blue
            cloud           cloud.n.02          500  30 150  50   white
            trees           tree.n.01             0  60 800 220   green, distant
            tree            tree.n.01           680  40 120 260   large, leafy
            grass           grass.n.01            0 260 800 340   green, lush
            path            path.n.01             0 520 500  80   paved
            dog#1           dog.n.01            330 170 180 150   white, jumping
            frisbee         frisbee.n.01        440 150  70  25   red, plastic
            collar          collar.n.01         440 200  30  20   blue
            tail            tail.n.01           330 210  40  40   fluffy
            dog#2           dog.n.01            100 380 150 110   brown, running
            ball            ball.n.01           270 470  25  25   yellow
            man             man.n.01            600 200 110 330   standing
            cap             cap.n.01            630 200  45  25   black
            shirt           shirt.n.01          610 250  90 100   green
            shorts          short_pants.n.01    615 350  80  60   khaki
            shoes           shoe.n.01           620 505  80  25   white
            leash           leash.n.01          690 380  40  80   red
            bench           bench.n.01           20 250 160  60   wooden
            woman           woman.n.01           60 200  60 100   sitting
            trash can       ashcan.n.01         200 240  40  55   green, metal
        """,
        relationships="""
            dog#1 | catching | frisbee
            dog#1 | has | tail
            dog#1 | WEARING | collar
            dog#1 | jumping over | grass
            dog#2 | running on | grass
            dog#2 | chasing | ball
            ball | on | grass
            man | wearing | cap
            man | wearing | shirt
            man | WEARING | shorts
            man | has | shoes
            man | holding | leash
            man | standing on | grass
            woman | sitting on | bench
            bench | on | grass
            trash can | next to | bench
            tree | behind | man
            path | through | grass
            cloud | in | sky
        """,
        regions="""
            dog#1, frisbee | a white dog catching a red frisbee
            dog#1 | dog leaping into the air
            frisbee | a red plastic frisbee~
            collar | blue collar on the dog
            dog#2 | a brown dog running on the grass
            dog#2, ball | dog chasing a yellow ball
            dog#1, dog#2 | two dogs playing in the park
            man | a man standing in the park
            man, cap | man wearing a black cap
            shirt | green shirt
            shorts | khaki shorts~
            leash | red leash in the man's hand
            woman, bench | a woman sitting on a wooden bench
            trash can | green metal trash can
            grass | lush green grass
            path | paved path through the park
            trees | trees in the distance
            tree | a large leafy tree
            sky, cloud | blue sky with a white cloud
            shoes | white shoes on the grass
        """,
        captions=(
            "A white dog leaping to catch a red frisbee in a park.",
            "Two dogs playing on the grass while a man watches.",
            "A dog jumps high in the air to grab a flying disc.",
            "A man in a cap watches his dog catch a frisbee on a sunny day.",
            "A brown dog chases a ball as another dog catches a frisbee. ",
        ),
        coco="""
            dog#1 = dog
            dog#2 = dog
            frisbee = frisbee
            man = person
            woman = person
            bench = bench
            ball = sports ball
        """,
    ),
    Scene(
        image_id=2500012, title="train station platform", size=(1024, 768), coco_id=700112,
        objects="""
            roof            roof.n.01             0   0 1024 120  metal, curved
            light#1         light.n.02          300 100  60  20   on
            light#2         light.n.02          650 100  60  20   on
            clock           clock.n.01          250 130  70  70   round, white
            sign            sign.n.02           100 140 120  40   electronic, orange
            pole            pole.n.01           380 110  35 390   white, metal
            train           train.n.01          450 180 574 400   yellow, modern
            door            door.n.01           560 300  80 200   open
            window#1        window.n.01         660 250  90  70   tinted
            window#2        window.n.01         790 250  90  70   tinted
            tracks          track.n.01          600 560 424 208   steel
            platform        platform.n.01         0 450 600 318   concrete, gray
            line            line.n.01           560 450  40 318   yellow, painted
            crowd           crowd.n.01           60 330 280 200   waiting
            woman           woman.n.01          480 330  70 230   walking
            suitcase        bag.n.06            540 470  50  80   black, rolling
            man#1           man.n.01            340 300  70 260   standing
            bag             bag.n.04            360 420  40  50   brown, leather
            phone           cellular_telephone.n.01 375 330 15 20  black
            man#2           man.n.01             20 320  70 260   young
            backpack        backpack.n.01        30 360  45  70   red
            bench           bench.n.01          150 520 160  60   metal
            trash can       ashcan.n.01          10 580  40  60   metal
        """,
        extras="""
            passenger       passenger.n.01      480 330  70 230   hurrying
        """,
        relationships="""
            train | on | tracks
            train | has | door
            window#1 | on | train
            window#2 | ON | train
            woman | pulling | suitcase
            woman | walking on | platform
            man#1 | holding | bag
            man#1 | looking at | phone
            man#1 | standing on | platform
            man#2 | WEARING | backpack
            crowd | waiting on | platform
            bench | on | platform
            line | painted on | platform
            clock | below | roof
            light#1 | on | roof
            sign | near | clock
            pole | holding up | roof
            trash can | on | platform
            woman | next to | train
        """,
        regions="""
            train | a yellow modern train
            train, tracks | train stopped on the tracks
            door | open door of the train
            window#1, window#2 | tinted train windows
            platform | gray concrete platform
            line | yellow safety line on the platform~
            crowd | a crowd of people waiting on the platform
            woman, suitcase | woman pulling a black suitcase
            woman | a woman walking beside the train
            man#1 | a man standing on the platform
            man#1, phone | man looking at his phone
            bag | brown leather bag
            man#2, backpack | young man with a red backpack
            bench | metal bench on the platform
            clock | round white clock below the roof
            sign | orange electronic sign~
            roof | curved metal roof of the station
            light#1, light#2 | lights on the ceiling
            pole | white metal pole
            trash can | metal trash can
            tracks | steel railroad tracks
        """,
        captions=(
            "A yellow train stopped at a busy station platform.",
            "Passengers wait on the platform as a train arrives.",
            "A woman pulls a suitcase along a platform next to a train.",
            "A crowd of people at a train station with a clock overhead.",
            "Travelers with bags walking beside a modern commuter train.",
        ),
        coco="""
            train = train
            woman = person
            man#1 = person
            man#2 = person
            crowd = person*
            suitcase = suitcase
            backpack = backpack
            bag = handbag
            phone = cell phone
            bench = bench
            clock = clock
        """,
    ),
    Scene(
        image_id=2500013, title="bedroom with a made bed", size=(800, 600),
        objects="""
            wall            wall.n.01             0   0 800 380   light blue
            floor           floor.n.01            0 480 800 120   carpeted, beige
            window          window.n.01         280  20 240 150   bright
            curtain#1       curtain.n.01        250  10  60 200   white, long
            curtain#2       curtain.n.01        490  10  60 200   white
            bed             bed.n.01            150 250 480 280   large, made
            headboard       headboard.n.01      160 180 460 120   wooden, dark
            pillow#1        pillow.n.01         200 250 150  70   white, fluffy
            pillow#2        pillow.n.01         430 250 150  70   white
            blanket         blanket.n.01        150 320 480 200   gray, soft
            teddy bear      teddy.n.01          500 280  70  70   brown, stuffed
            laptop          laptop.n.01         300 360 100  60   open, silver
            nightstand#1    nightstand.n.01      40 360 100 130   wooden
            nightstand#2    nightstand.n.01     660 360 100 130   wooden
            lamp#1          lamp.n.02            60 252  60 112   on
            lamp#2          lamp.n.02           680 252  60 112   off
            alarm clock     alarm_clock.n.01     90 340  35  25   digital
            book            book.n.01           690 350  50  15   red
            rug             rug.n.01            250 520 300  80   round, patterned
            slippers        slipper.n.01        420 545  70  30   pink
            outlet          wall_socket.n.01    740 420  20 -12
        """,
        relationships="""
            pillow#1 | ON | bed
            pillow#2 | on | bed
            blanket | covering | bed
            headboard | behind | pillow#1
            lamp#1 | on | nightstand#1
            lamp#2 | on top of | nightstand#2
            book | on | nightstand#2
            alarm clock | on | nightstand#1
            nightstand#1 | next to | bed
            curtain#1 | hanging by | window
            rug | on | floor
            slippers | on | rug
            teddy bear | sitting on | bed
            laptop | on | blanket
            window | above | bed
        """,
        regions="""
            bed | a large neatly made bed
            pillow#1, pillow#2 | two fluffy white pillows
            blanket | soft gray blanket on the bed
            headboard | dark wooden headboard
            teddy bear | a brown teddy bear sitting on the bed~
            laptop | an open silver laptop on the blanket
            nightstand#1, lamp#1 | lamp on a wooden nightstand
            lamp#2 | the lamp is turned off
            alarm clock | digital alarm clock
            book | red book on the nightstand
            window | bright window above the bed
            curtain#1, curtain#2 | long white curtains~
            rug | round patterned rug
            slippers | pink slippers on the rug
            floor | beige carpeted floor
            wall | light blue wall
            nightstand#2 | wooden nightstand beside the bed
        """,
    ),
    Scene(
        image_id=2500014, title="fruit stall at an outdoor market", size=(640, 480), coco_id=700114,
        objects="""
            awning          awning.n.01           0   0 640  80   striped, red and white
            wall            wall.n.01             0  80 640 180   brick
            sign            sign.n.02           160  90 100  50   handwritten
            man             man.n.01            280  60 120 200   smiling, old
            cap             cap.n.01            310  60  50  30   white
            apron           apron.n.01          300 130  80 120   green
            table           table.n.02            0 260 640 220   wooden
            crate#1         crate.n.01           20 230 180 110   wooden
            crate#2         crate.n.01          230 240 170 100   wooden
            crate#3         crate.n.01          430 240 190 100   plastic
            bananas         banana.n.02          30 180 160  80   yellow, ripe
            orange#1        orange.n.01         250 220  40  40   orange
            orange#2        orange.n.01         295 215  40  40
            orange#3        orange.n.01         340 222  40  38
            apple#1         apple.n.01          450 225  35  35   red, shiny
            apple#2         apple.n.01          490 220  35  35   red
            apple#3         apple.n.01          530 228  35  35   green
            price tag       tag.n.01            250 300  40  25   paper
            scale           scale.n.07          420 210  60  55   metal
            basket          basket.n.01          90 330 130  90   wicker
            grapes          grape.n.01          110 320  90  50   purple
            woman           woman.n.01          520  90 110 390
            bag             bag.n.04            560 250  60  80   plastic, white
        """,
        relationships="""
            bananas | in | crate#1
            orange#1 | IN | crate#2
            orange#2 | next to | orange#3
            apple#1 | in | crate#3
            apple#3 | next to | apple#2
            crate#1 | on | table
            crate#2 | ON | table
            crate#3 | on top of | table
            man | WEARING | apron
            man | wearing | cap
            man | standing behind | table
            woman | holding | bag
            grapes | in | basket
            basket | on | table
            awning | above | table
            sign | below | awning
            scale | on | table
            price tag | on | crate#2
        """,
        regions="""
            bananas | a bunch of ripe yellow bananas
            bananas, crate#1 | bananas in a wooden crate
            orange#1, orange#2, orange#3 | three oranges~
            crate#2 | wooden crate full of oranges
            apple#1, apple#2 | shiny red apples
            apple#3 | a green apple
            crate#3 | plastic crate of apples
            man | a smiling old man behind the stall
            man, apron | vendor wearing a green apron
            cap | white cap on the vendor's head
            woman, bag | a woman holding a plastic bag
            awning | red and white striped awning
            sign | handwritten price sign~
            scale | metal scale on the table
            basket, grapes | purple grapes in a wicker basket
            table | wooden table of the fruit stall
            price tag | paper price tag on the crate
            wall | brick wall behind the stall
            @0 0 640 480 | an outdoor fruit market stall
        """,
        captions=(
            "A fruit stand with crates of oranges, apples and bananas.",
            "A vendor in a green apron stands behind his fruit stall.",
            "A woman shopping for fruit at an outdoor market.",
            "Fresh bananas, oranges and apples for sale under a striped awning.",
            "An outdoor market stall selling fruit and grapes in a basket.",
        ),
        coco="""
            bananas = banana**
            orange#1 = orange
            orange#2 = orange
            orange#3 = orange
            apple#1 = apple
            apple#2 = apple
            apple#3 = apple
            man = person
            woman = person
            bag = handbag
            table = dining table
        """,
    ),
    Scene(
        image_id=2500015, title="home office desk with a laptop", size=(500, 333),
        objects="""
            wall            wall.n.01             0   0 500 200   white
            window          window.n.01         300   0 200 110   sunny
            calendar        calendar.n.01       200  20  80  70   paper
            note            note.n.01           120  30  30  30   yellow
            desk            desk.n.01             0 190 500 143   wooden, brown
            laptop          laptop.n.01         150 120 160 100   open, silver
            screen          screen.n.01         160 120 140  75   bright, on
            keyboard        computer_keyboard.n.01 330 200 120 30 black, wireless
            mouse           mouse.n.04          460 205  25  18   white
            mug             mug.n.04             90 160  40  45   blue, ceramic
            notebook        notebook.n.01       330 235 110  70   spiral, open
            pen#1           pen.n.01            340 240  60   8   black
            pen#2           pen.n.01            350 255  55   8   blue
            lamp            lamp.n.02            20  40  80 160   black
            plant           plant.n.02          430 110  60  90   small, green
            pot             pot.n.04            440 165  45  35   white
            phone           cellular_telephone.n.01 250 240 40 70  black
            glasses         spectacles.n.01      60 250  70  25   reading
            papers          paper.n.01            0 230 100  90   white, stacked
            headphones      earphone.n.01        30 210  60  40   black
            chair           chair.n.01          180 300 150  33   black
        """,
        relationships="""
            laptop | on | desk
            laptop | has | screen
            keyboard | ON | desk
            mouse | next to | keyboard
            mug | on | desk
            pen#1 | on | notebook
            pen#2 | on top of | notebook
            notebook | on | desk
            lamp | on | desk
            plant | in | pot
            pot | on | desk
            phone | on | desk
            glasses | on | papers
            calendar | hanging on | wall
            note | on | wall
            chair | in front of | desk
            headphones | on | desk
        """,
        regions="""
            laptop | an open silver laptop
            screen | the laptop screen is on
            keyboard, mouse | black wireless keyboard and white mouse
            mug | a blue ceramic mug~
            notebook, pen#1, pen#2 | two pens on a spiral notebook
            lamp | black desk lamp
            plant, pot | small plant in a white pot
            phone | black smartphone on the desk
            glasses | reading glasses on a stack of papers
            papers | stacked white papers
            headphones | black headphones
            calendar | paper calendar on the wall
            note | yellow sticky note~
            window | sunny window
            desk | brown wooden desk
            chair | black office chair
        """,
    ),
    Scene(
        image_id=2500016, title="skiers on a snowy slope", size=(480, 640), coco_id=700116,
        objects="""
            sky             sky.n.01              0   0 480 180   blue, clear
            cloud           cloud.n.02          300  20 150  50   white, thin
            mountain        mountain.n.01         0  60 480 200   snowy, tall
            ski lift        ski_tow.n.01        240  80 240 100   metal
            tree#1          pine.n.01            20 170  60 140   snowy
            tree#2          pine.n.01           380 180  70 150   green
            snow            snow.n.02             0 250 480 390   white, powdery
            tracks          track.n.02            0 500 300 140   curving
            flag            flag.n.01           420 260  20  50   orange
            skier#1         skier.n.01          180 260 110 220   skiing
            helmet          helmet.n.02         205 260  50  40   black
            goggles         goggles.n.01        212 278  36  14   orange, reflective
            jacket#1        jacket.n.01         190 300  90  90   red, puffy
            pants           trouser.n.01        195 385  80  90   black
            pole#1          ski_pole.n.01       170 330  20 150   metal
            skis#1          ski.n.01            150 470 170  30   red
            skier#2         skier.n.01          330 380  80 160   young
            jacket#2        jacket.n.01         335 410  70  60   yellow
            backpack        backpack.n.01       370 415  35  45   gray
            skis#2          ski.n.01            315 530 110  20   blue
            skier#3         skier.n.01          100 300  40  70   small, distant
        """,
        extras="""
            skier           skier.n.01          180 262 108 216   fast
        """,
        relationships="""
            skier#1 | standing on | skis#1
            skier#1 | holding | pole#1
            skier#1 | wearing | jacket#1
            skier#1 | wearing | helmet
            skier#1 | WEARING | goggles
            skier#1 | wearing | pants
            skier#2 | on | skis#2
            skier#2 | wearing | jacket#2
            skier#2 | has | backpack
            skier#3 | on | snow
            tree#1 | covered in | snow
            skis#1 | in | snow
            mountain | behind | skier#1
            ski lift | above | mountain
            cloud | in | sky
            flag | in | snow
            tracks | in | snow
        """,
        regions="""
            skier#1 | a skier in a red jacket
            jacket#1 | red puffy jacket~
            helmet, goggles | black helmet and orange goggles
            pants | black snow pants
            pole#1 | metal ski pole
            skis#1 | a pair of red skis
            skier#2 | a young skier
            skier#2, backpack | skier carrying a gray backpack
            jacket#2 | yellow jacket
            skis#2 | blue skis on the snow
            skier#3 | a skier in the distance
            skier#1, skier#2, skier#3 | three skiers on the slope
            mountain | tall snowy mountain
            ski lift | ski lift above the slope
            tree#1 | snow covered pine tree~
            tree#2 | a pine tree
            snow | white powdery snow
            tracks | ski tracks curving through the snow
            flag | orange flag in the snow
            sky, cloud | clear blue sky with a thin cloud
        """,
        captions=(
            "A skier in a red jacket skiing down a snowy slope.",
            "Three skiers on a mountain covered in fresh snow.",
            "A person with goggles and a helmet skis past pine trees.",
            "Skiers enjoying a sunny day on the slopes near a ski lift.",
            "A man in a red jacket and black pants holds his ski poles on the snow.",
        ),
        coco="""
            skier#1 = person
            skier#2 = person
            skier#3 = person
            skis#1 = skis
            skis#2 = skis
            backpack = backpack
        """,
    ),
]

# ---------------------------------------------------------------------------------------------------------
# From scenes to records

PAD = 4  # region boxes are the union of their objects plus this margin, as annotators drew them loosely
OBJECT_LINE = re.compile(
    r"^(?P<label>.+?)\s+(?P<synset>-|[a-z_]+\.[nvar]\.\d\d)\s+(?P<x>-?\d+)\s+(?P<y>-?\d+)\s+(?P<w>-?\d+)\s+"
    r"(?P<h>-?\d+)\s*(?P<attributes>.*)$"
)
PREDICATE_SYNSETS = {
    "on": ["along.r.01"], "on top of": ["along.r.01"], "in": ["in.r.01"], "has": ["have.v.01"],
    "holding": ["have.v.01"], "wearing": ["wear.v.01"], "wears": ["wear.v.01"], "next to": ["next.r.01"],
    "behind": ["behind.r.01"], "above": ["above.r.01"], "below": ["below.r.01"], "under": ["under.r.01"],
    "near": ["near.r.01"], "riding": ["ride.v.01"], "carrying": ["carry.v.01"], "eating": ["eat.v.01"],
    "sitting on": ["sit.v.01"], "standing on": ["stand.v.01"], "walking on": ["walk.v.01"],
    "parked on": ["park.v.01"], "hanging on": ["hang.v.01"], "hanging from": ["hang.v.01"],
    "covering": ["cover.v.01"], "swinging": ["swing.v.03"], "looking at": ["look.v.01"],
    "pulling": ["pull.v.01"], "catching": ["catch.v.01"], "chasing": ["chase.v.01"],
}
# Predicates whose meaning needs the two boxes to overlap, or to be stacked vertically.
OVERLAPPING = {
    "on", "on top of", "in", "has", "holding", "wearing", "wears", "riding", "carrying", "eating",
    "sitting on", "standing on", "walking on", "parked on", "hanging on", "hanging from", "covering",
    "draped over", "running on", "kneeling on", "painted on", "catching", "pulling", "waiting on", "sitting in",
    "part of", "driving on", "on side of", "swimming in", "perched on", "covered in", "sleeping on",
    "swinging", "stuck in",
}
ABOVE, BELOW = {"above", "hanging above"}, {"under", "below"}
LIMITS = {"objects": (15, 40), "attribute objects": (8, 25), "relationships": (10, 25), "regions": (15, 50)}


@dataclass
class Obj:
    label: str
    name: str
    synsets: list[str]
    box: tuple[int, int, int, int]
    attributes: list[str]
    object_id: int = 0
    merged: tuple[int, ...] = ()

    def fields(self) -> dict:
        """Box and identity in the key order VG uses inside relationships."""
        x, y, w, h = self.box
        return {"h": h, "synsets": self.synsets, "object_id": self.object_id, "w": w, "y": y, "x": x}


class IdSequence:
    """A global id sequence: VG ids are unique across the whole dataset, not per image."""

    def __init__(self, start: int):
        self.value = start - 1

    def next(self) -> int:
        self.value += 1
        return self.value


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def parse_objects(text: str) -> dict[str, Obj]:
    objects = {}
    for line in lines(text):
        m = OBJECT_LINE.match(line)
        if not m:
            raise ValueError(f"cannot parse object line: {line!r}")
        label = m["label"]
        attributes = [a.strip() for a in m["attributes"].split(",") if a.strip()]
        synsets = [] if m["synset"] == "-" else [m["synset"]]
        box = (int(m["x"]), int(m["y"]), int(m["w"]), int(m["h"]))
        if label in objects:
            raise ValueError(f"duplicate label {label!r}")
        objects[label] = Obj(label, label.split("#")[0], synsets, box, attributes)
    return objects


def box_quirk(box: tuple[int, int, int, int], width: int, height: int) -> str | None:
    x, y, w, h = box
    if w <= 0 or h <= 0:
        return "degenerate box"
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return "box outside image"
    if x < 0 or y < 0 or x + w > width or y + h > height:
        return "box partly outside image"
    return None


def union_box(boxes: list[tuple[int, int, int, int]], width: int, height: int) -> tuple[int, int, int, int]:
    """Union plus PAD, kept inside the image unless an object itself already crosses that edge."""
    x1 = min(b[0] for b in boxes)
    y1 = min(b[1] for b in boxes)
    x2 = max(b[0] + b[2] for b in boxes)
    y2 = max(b[1] + b[3] for b in boxes)
    px1 = x1 - PAD if x1 < 0 else max(0, x1 - PAD)
    py1 = y1 - PAD if y1 < 0 else max(0, y1 - PAD)
    px2 = x2 + PAD if x2 > width else min(width, x2 + PAD)
    py2 = y2 + PAD if y2 > height else min(height, y2 + PAD)
    return px1, py1, px2 - px1, py2 - py1


def check_relation(scene: Scene, subject: Obj, predicate: str, obj: Obj) -> None:
    """Fail the build when a spatial predicate contradicts the boxes (the generator would repeat it)."""
    sx, sy, sw, sh = subject.box
    ox, oy, ow, oh = obj.box
    key = predicate.lower()
    overlap = min(sx + sw, ox + ow) > max(sx, ox) and min(sy + sh, oy + oh) > max(sy, oy)
    centre_above = sy + sh / 2 < oy + oh / 2
    if (key in OVERLAPPING and not overlap) or (key in ABOVE and not centre_above) or (
        key in BELOW and centre_above
    ):
        raise ValueError(f"{scene.image_id}: '{subject.label} {predicate} {obj.label}' contradicts the boxes")


def crowd_mask(rnd: random.Random, box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """A crowd as many overlapping blobs (heads and shoulders, a heap of fruit) inside the box."""
    x, y, w, h = box
    yy, xx = np.ogrid[:height, :width]
    mask = np.zeros((height, width), dtype=np.uint8)
    for _ in range(max(6, (w * h) // 900)):
        rx, ry = 6 + rnd.random() * 12, 8 + rnd.random() * 14
        cx, cy = x + rx + rnd.random() * max(1.0, w - 2 * rx), y + ry + rnd.random() * max(1.0, h - 2 * ry)
        mask |= (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).astype(np.uint8)
    return np.asfortranarray(mask)


def uncompressed_counts(mask: np.ndarray) -> list[int]:
    """Column-major run lengths starting with a (possibly empty) run of zeros, as COCO crowd masks are."""
    flat = mask.flatten(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def build() -> tuple[dict[str, list], dict[str, dict], list[str]]:
    object_ids, legacy_ids = IdSequence(3_900_001), IdSequence(1_200_001)
    relationship_ids, region_ids = IdSequence(4_500_001), IdSequence(5_300_001)
    caption_ids, instance_ids = IdSequence(800_001), IdSequence(1_900_001)
    vg: dict[str, list] = {name: [] for name in
                           ("image_data", "objects", "attributes", "relationships", "region_descriptions")}
    coco_images, captions, instances = [], [], []
    summary = []

    for index, scene in enumerate(SCENES):
        width, height = scene.size
        objects = parse_objects(scene.objects)
        extras = parse_objects(scene.extras)
        for obj in objects.values():
            obj.object_id = object_ids.next()
            if object_ids.value % 5 == 4:  # v1.4 merged duplicates into this object
                obj.merged = (legacy_ids.next(),)
        for obj in extras.values():
            obj.object_id = object_ids.next()
        url = VG_URL.format(scene.image_id)
        flickr_id = 9_000_000_000 + scene.coco_id if scene.coco_id else None
        vg["image_data"].append({"width": width, "url": url, "height": height, "image_id": scene.image_id,
                                 "coco_id": scene.coco_id, "flickr_id": flickr_id})
        vg["objects"].append({"image_id": scene.image_id, "objects": [
            {"synsets": o.synsets, "h": o.box[3], "object_id": o.object_id, "merged_object_ids": list(o.merged),
             "names": [o.name], "w": o.box[2], "y": o.box[1], "x": o.box[0]} for o in objects.values()
        ], "image_url": url})

        # attributes.json (v1.2): some objects without attributes are absent, some objects v1.4 merged keep
        # their old id, and a few objects exist only here.
        attribute_entries = []
        for position, obj in enumerate([*objects.values(), *extras.values()]):
            if not obj.attributes and position % 6 == 1:
                continue
            object_id = obj.merged[0] if obj.merged and obj.merged[0] % 3 == 0 else obj.object_id
            entry = {"synsets": obj.synsets, "h": obj.box[3], "object_id": object_id, "names": [obj.name],
                     "w": obj.box[2]}
            if obj.attributes:
                entry["attributes"] = obj.attributes
            attribute_entries.append(entry | {"y": obj.box[1], "x": obj.box[0]})
        vg["attributes"].append({"image_id": scene.image_id, "attributes": attribute_entries})

        quirks = {f"{box_quirk(o.box, width, height)}: {label}"
                  for label, o in objects.items() if box_quirk(o.box, width, height)}
        unusable = {label for label, o in objects.items()
                    if box_quirk(o.box, width, height) in ("degenerate box", "box outside image")}

        relationships = []
        for line in lines(scene.relationships):
            subject_label, predicate, object_label = (part.strip() for part in line.split("|"))
            subject, obj = objects[subject_label], objects[object_label]
            if {subject_label, object_label} & unusable:
                raise ValueError(f"{scene.image_id}: relationship uses an unusable box: {line}")
            check_relation(scene, subject, predicate, obj)
            relationship_id = relationship_ids.next()
            pair = []
            for position, o in enumerate((subject, obj)):
                if (relationship_id + position) % 7 == 0:  # the v1.4 form of the object: "names", a list
                    x, y, w, h = o.box
                    pair.append({"h": h, "object_id": o.object_id, "merged_object_ids": list(o.merged),
                                 "synsets": o.synsets, "w": w, "y": y, "x": x, "names": [o.name]})
                else:
                    pair.append({"name": o.name} | o.fields())
            relationships.append({"predicate": predicate, "object": pair[1], "relationship_id": relationship_id,
                                  "synsets": PREDICATE_SYNSETS.get(predicate.lower(), []), "subject": pair[0]})
        vg["relationships"].append({"relationships": relationships, "image_id": scene.image_id})

        regions = []
        for line in lines(scene.regions):
            target, phrase = (part.strip() for part in line.split("|"))
            if target.startswith("@"):
                x, y, w, h = (int(v) for v in target[1:].split())
                if box_quirk((x, y, w, h), width, height):
                    quirks.add(f"region {box_quirk((x, y, w, h), width, height)}: {phrase}")
            else:
                labels = [label.strip() for label in target.split(",")]
                if set(labels) & unusable:
                    raise ValueError(f"{scene.image_id}: region uses an unusable box: {line}")
                x, y, w, h = union_box([objects[label].box for label in labels], width, height)
            if phrase.endswith("~"):
                phrase = phrase[:-1] + " "
            regions.append({"region_id": region_ids.next(), "width": w, "height": h,
                            "image_id": scene.image_id, "phrase": phrase, "y": y, "x": x})
        vg["region_descriptions"].append({"regions": regions, "id": scene.image_id})

        counts = {"objects": len(objects), "attribute objects": sum(bool(o.attributes) for o in objects.values()),
                  "relationships": len(relationships), "regions": len(regions)}
        for what, (low, high) in LIMITS.items():
            if not low <= counts[what] <= high:
                raise ValueError(f"{scene.image_id}: {counts[what]} {what}, expected {low}-{high}")

        kinds, crowds = set(), 0
        if scene.coco_id:
            if len(scene.captions) != 5:
                raise ValueError(f"{scene.image_id}: COCO images have exactly 5 captions")
            captured = f"2013-11-{14 + index:02d} 1{index % 10}:2{index % 6}:0{index % 10}"
            flickr_url = f"http://farm{1 + index % 9}.staticflickr.com/{4000 + 37 * index}/{flickr_id}_z.jpg"
            coco_images.append(coco_image(scene.coco_id, width, height, 1 + index % 8, captured, flickr_url))
            captions += [{"image_id": scene.coco_id, "id": caption_ids.next(), "caption": c} for c in scene.captions]
            for line in lines(scene.coco):
                label, category = (part.strip() for part in line.split("="))
                crowd = category.count("*")
                category = category.rstrip("*")
                obj = objects[label]
                if label in unusable:
                    raise ValueError(f"{scene.image_id}: COCO instance on an unusable box: {label}")
                x, y, w, h = obj.box
                x, y = max(0, x), max(0, y)
                w, h = min(obj.box[0] + obj.box[2], width) - x, min(obj.box[1] + obj.box[3], height) - y
                if crowd:
                    crowds += 1
                    rnd = random.Random(scene.image_id)
                    mask = crowd_mask(rnd, (x, y, w, h), width, height)
                    encoded = mask_utils.encode(mask)
                    if crowd == 2:
                        segmentation = {"counts": encoded["counts"].decode("ascii"), "size": [height, width]}
                        kinds.add("compressed RLE")
                    else:
                        segmentation = {"counts": uncompressed_counts(mask), "size": [height, width]}
                        kinds.add("RLE")
                    instances.append({
                        "segmentation": segmentation, "area": int(mask_utils.area(encoded)), "iscrowd": 1,
                        "image_id": scene.coco_id, "bbox": [float(v) for v in mask_utils.toBbox(encoded)],
                        "category_id": COCO_CATEGORY_IDS[category],
                        "id": 900_100_000_000 + scene.coco_id * 10 + crowds,  # COCO's crowd id range
                    })
                else:
                    annotation_id = instance_ids.next()
                    segmentation, bbox, area = polygon_in_box(random.Random(annotation_id).random, x, y, w, h,
                                                              width, height)
                    kinds.add("polygon")
                    instances.append({"segmentation": segmentation, "area": area, "iscrowd": 0,
                                      "image_id": scene.coco_id, "bbox": bbox,
                                      "category_id": COCO_CATEGORY_IDS[category], "id": annotation_id})
        summary.append(
            f"{scene.image_id}  {scene.title}  coco_id={scene.coco_id}  {width}x{height}  "
            + "  ".join(f"{v} {k}" for k, v in counts.items())
            + (f"  coco: {', '.join(sorted(kinds))}" if kinds else "")
            + "".join(f"\n    {q}" for q in sorted(quirks))
        )

    coco = {
        "captions_train2017": {**coco_header("SVIT Assets sample captions (COCO 2017 format)",
                                             with_categories=False),
                               "images": coco_images, "annotations": captions},
        "instances_train2017": {**coco_header("SVIT Assets sample instances (COCO 2017 format)",
                                              with_categories=True),
                                "images": coco_images, "annotations": instances},
    }
    for name, data in coco.items():  # the official top-level order
        coco[name] = {key: data[key] for key in ("info", "licenses", "images", "annotations", "categories")
                      if key in data}
    return vg, coco, summary


def main() -> None:
    vg, coco, summary = build()
    for folder, files in (("visual_genome", vg), ("coco", coco)):
        (HERE / folder).mkdir(exist_ok=True)
        for name, data in files.items():
            # one line with ", " / ": " separators, like the official files
            (HERE / folder / f"{name}.json").write_text(json.dumps(data))
    print("\n".join(summary))


if __name__ == "__main__":
    main()
